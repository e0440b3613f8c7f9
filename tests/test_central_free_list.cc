#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "fake_os.h"
#include "small/central_free_list.h"

using namespace mm;

namespace {
std::vector<void*> chain_to_vector(void* head) {
  std::vector<void*> v;
  for (void* p = head; p; p = next_of(p)) v.push_back(p);
  return v;
}
}  // namespace

TEST_CASE("central free list: batches of distinct objects from one slab, returned slabs go home") {
  FakeOs os;
  static Pagemap pm;
  PageHeap ph(&pm, os.source());
  ph.set_grow_step(1);
  CentralFreeList cfl;
  const uint32_t cls = 3;  // 48-byte objects
  cfl.init(cls, &ph);
  const ClassInfo& ci = class_info(cls);

  void* head = nullptr;
  REQUIRE(cfl.remove_range(&head, 32) == 32);
  auto objs = chain_to_vector(head);
  REQUIRE(objs.size() == 32);
  std::set<void*> uniq(objs.begin(), objs.end());
  CHECK(uniq.size() == 32);
  Span* slab = pm.span_of(objs[0]);
  for (void* p : objs) {
    CHECK(pm.span_of(p) == slab);
    // slab_layout: the low 32 bits of every object's address are a multiple of
    // its size, and objects lie whole inside the slab, at most one short.
    CHECK(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)) % ci.size == 0);
    CHECK(static_cast<char*>(p) >= slab->base());
    CHECK(static_cast<char*>(p) + ci.size <= slab->base() + slab->bytes());
    CHECK(is_slab_object(slab, p));
    CHECK(!is_slab_object(slab, static_cast<char*>(p) + 16));
    CHECK(reinterpret_cast<uintptr_t>(p) % 16 == 0);
    CHECK(pm.cls(page_of(p)) == cls);
  }
  CHECK(cfl.slabs() == 1);
  CHECK(slab->capacity + 1 >= ci.objects);
  CHECK(slab->capacity <= ci.objects);
  CHECK(cfl.free_objects() == slab->capacity - 32);

  // Drain more than one slab's worth.
  std::vector<void*> all = objs;
  while (all.size() < slab->capacity + 10) {
    void* h = nullptr;
    int n = cfl.remove_range(&h, 32);
    REQUIRE(n > 0);
    auto more = chain_to_vector(h);
    all.insert(all.end(), more.begin(), more.end());
  }
  CHECK(cfl.slabs() == 2);

  // Give everything back in two chains: both slabs return to the page heap.
  size_t half = all.size() / 2;
  for (size_t i = 0; i + 1 < half; ++i) next_of(all[i]) = all[i + 1];
  next_of(all[half - 1]) = nullptr;
  for (size_t i = half; i + 1 < all.size(); ++i) next_of(all[i]) = all[i + 1];
  next_of(all.back()) = nullptr;
  cfl.insert_range(all[0]);
  cfl.insert_range(all[half]);
  CHECK(cfl.slabs() == 0);
  PageHeapStats st = ph.stats();
  CHECK(st.free_pages == st.total_pages);
  CHECK(st.free_spans == 1);  // and they coalesced
}

TEST_CASE("central free list: reports exhaustion as zero objects") {
  FakeOs os;
  static Pagemap pm;
  os.limit = 0;
  PageHeap ph(&pm, os.source());
  CentralFreeList cfl;
  cfl.init(1, &ph);
  void* head = nullptr;
  CHECK(cfl.remove_range(&head, 32) == 0);
}

TEST_CASE("central free list: objects that came back leave lowest address first") {
  FakeOs os;
  static Pagemap pm;
  PageHeap ph(&pm, os.source());
  ph.set_grow_step(1);
  CentralFreeList cfl;
  const uint32_t cls = 4;  // 64-byte objects, 128 to a slab
  cfl.init(cls, &ph);
  const ClassInfo& ci = class_info(cls);

  void* head = nullptr;
  REQUIRE(cfl.remove_range(&head, 128) == 128);  // the whole slab: two bitmap words
  auto objs = chain_to_vector(head);
  // Give back every other object, in a scrambled order, as two threads' frees
  // might interleave them.
  std::vector<void*> back;
  for (size_t i = 0; i < objs.size(); i += 2)
    back.push_back(objs[(i * 7) % objs.size() & ~size_t{1}]);
  std::sort(back.begin(), back.end());
  back.erase(std::unique(back.begin(), back.end()), back.end());
  std::vector<void*> scrambled = back;
  for (size_t i = 0; i < scrambled.size(); ++i)  // a fixed shuffle
    std::swap(scrambled[i], scrambled[(i * 13 + 5) % scrambled.size()]);
  for (size_t i = 0; i + 1 < scrambled.size(); ++i) next_of(scrambled[i]) = scrambled[i + 1];
  next_of(scrambled.back()) = nullptr;
  cfl.insert_range(scrambled[0]);

  // They come out again in address order, before any never-carved object.
  void* again = nullptr;
  int n = cfl.remove_range(&again, static_cast<int>(back.size()));
  REQUIRE(n == static_cast<int>(back.size()));
  auto out = chain_to_vector(again);
  CHECK(out == back);
  CHECK(cfl.free_objects() == ci.objects - 128);
}

TEST_CASE(
    "slab layout: objects where the low 32 bits are multiples of the size, one side of 4 GiB") {
  for (uint32_t cls = 1; cls <= kNumSmallClasses; ++cls) {
    const ClassInfo& ci = class_info(cls);
    for (uintptr_t start :
         {uintptr_t{0x7f0000000000} >> kPageShift,
          (uintptr_t{0x7f0000000000} + 4 * kPageSize + 8192 * 3) >> kPageShift,
          // across a 4 GiB boundary: one page below it, the rest above
          (uintptr_t{0x7f0100000000} - kPageSize) >> kPageShift,
          // all but one page below it
          (uintptr_t{0x7f0100000000} - (ci.pages - 1) * kPageSize) >> kPageShift}) {
      Span s;
      s.start = start;
      s.npages = ci.pages;
      s.cls = static_cast<uint8_t>(cls);
      slab_layout(&s, ci.size);
      auto first = reinterpret_cast<uintptr_t>(s.objs);
      auto last_end = first + size_t{s.capacity} * ci.size;
      CHECK(first >= reinterpret_cast<uintptr_t>(s.base()));
      CHECK(last_end <= reinterpret_cast<uintptr_t>(s.base()) + s.bytes());
      CHECK((first >> 32) == ((last_end - 1) >> 32));  // no object lattice crosses 4 GiB
      CHECK(static_cast<uint32_t>(first) % ci.size == 0);
      auto base = reinterpret_cast<uintptr_t>(s.base());
      if ((base >> 32) == ((base + s.bytes() - 1) >> 32)) {
        CHECK(s.capacity + 1 >= ci.objects);  // one object short at most
        CHECK(s.capacity >= ci.batch);
      } else {
        CHECK(s.capacity + 1 >= (s.bytes() / 2) / ci.size);  // the larger side
      }
    }
  }
}

TEST_CASE("central free list: a new slab's pages are mapped in one call") {
  FakeOs os;
  static Pagemap pm;
  PageHeap ph(&pm, os.source());
  ph.set_grow_step(1);
  CentralFreeList cfl;
  const uint32_t cls = 16;  // 256-byte objects: a slab of several pages
  cfl.init(cls, &ph);
  void* head = nullptr;
  REQUIRE(cfl.remove_range(&head, 4) == 4);
  Span* slab = pm.span_of(head);
  REQUIRE(slab != nullptr);
  REQUIRE(os.populated.size() == 1);
  CHECK(os.populated[0].first == reinterpret_cast<void*>(slab->base()));
  CHECK(os.populated[0].second == slab->bytes());
  // Objects carved from the same slab map nothing more.
  void* more = nullptr;
  REQUIRE(cfl.remove_range(&more, 4) == 4);
  CHECK(pm.span_of(more) == slab);
  CHECK(os.populated.size() == 1);
  cfl.insert_range(head);
  cfl.insert_range(more);
}
