// Locality groups of the page heap (page_heap.h, "Locality") and the central free
// list's per-group slabs.
#include <doctest/doctest.h>
#include <errno.h>

#include <vector>

#include "fake_os.h"
#include "small/central_free_list.h"

using namespace mm;

namespace {
constexpr size_t kBlock = kLocalityBlock >> kPageShift;  // pages
struct Fixture : PageHeapFixture {
  Fixture() { os.data_limited = false; }
  Span* alloc(size_t n, uint8_t group) { return ph.alloc(n, SpanState::kLarge, kClsLarge, group); }
  // The aligned block that holds page.
  static uintptr_t block_of(uintptr_t page) { return page / kBlock; }
};
}  // namespace

TEST_CASE("locality: a group's spans come from an aligned block of its own") {
  Fixture f;
  Span* pool = f.alloc(3, 0);
  Span* a = f.alloc(2, 1);
  Span* b = f.alloc(2, 2);
  Span* a2 = f.alloc(5, 1);
  REQUIRE((pool && a && b && a2));
  // Group 1's two spans share a block that neither group 0 nor group 2 uses.
  CHECK(a->start % kBlock == 0);
  CHECK(b->start % kBlock == 0);
  CHECK(Fixture::block_of(a2->start) == Fixture::block_of(a->start));
  CHECK(Fixture::block_of(b->start) != Fixture::block_of(a->start));
  CHECK(Fixture::block_of(pool->start) != Fixture::block_of(a->start));
  CHECK(Fixture::block_of(pool->start) != Fixture::block_of(b->start));
  CHECK((a->owner == 1 && a2->owner == 1 && b->owner == 2 && pool->owner == 0));
  // The pages before an aligned block stay in the pool: group 0 uses them
  // before the heap grows again.
  size_t grows = f.os.grow_calls;
  Span* c = f.alloc(4, 0);
  REQUIRE(c);
  CHECK(c->start < a->start);
  CHECK(f.os.grow_calls == grows);
}

TEST_CASE("locality: free spans merge only within their group") {
  Fixture f;
  Span* a = f.alloc(2, 1);
  REQUIRE(a);
  uintptr_t block = a->start;
  Span* a2 = f.alloc(3, 1);
  CHECK(a2->start == block + 2);
  f.ph.free(a);
  f.ph.free(a2);
  // One free span of group 1: the whole block again.
  Span* whole = f.pm.span(block);
  CHECK(whole->state == SpanState::kFree);
  CHECK(whole->owner == 1);
  CHECK(whole->npages == kBlock);
  // Its right neighbour (the pool's) did not join it.
  Span* right = f.pm.span(block + kBlock);
  REQUIRE(right);
  CHECK(right->owner == 0);
  // Group 1 reuses its block; group 2 does not take it while the pool has room.
  Span* again = f.alloc(4, 1);
  CHECK(again->start == block);
  Span* other = f.alloc(4, 2);
  CHECK(Fixture::block_of(other->start) != Fixture::block_of(block));
}

TEST_CASE("locality: the pool takes a group's free pages before the heap grows") {
  Fixture f;
  Span* a = f.alloc(kBlock, 1);  // a whole block
  REQUIRE(a);
  f.ph.free(a);
  size_t grows = f.os.grow_calls;
  size_t total = f.ph.stats().total_pages;
  // The pool's own free pages (before and after the aligned block) are smaller
  // than a block; group 1's free block serves the pool.
  Span* big = f.alloc(kBlock, 0);
  REQUIRE(big);
  CHECK(big->start == a->start);
  CHECK(f.os.grow_calls == grows);
  CHECK(f.ph.stats().total_pages == total);
}

TEST_CASE("locality: purged pages go back to the pool") {
  Fixture f;
  f.ph.set_decay_ms(100);
  Span* a = f.alloc(8, 3);
  REQUIRE(a);
  uintptr_t start = a->start;
  f.ph.free(a);
  CHECK(f.pm.span(start)->owner == 3);
  f.os.clock_ms += 1000;
  {
    LockGuard g(f.ph.lock());
    f.ph.purge_decayed();
  }
  Span* s = f.pm.span(start);
  CHECK(s->state == SpanState::kFree);
  CHECK(s->purged);
  CHECK(s->owner == 0);
}

TEST_CASE("locality: under a data limit no block is claimed") {
  Fixture f;
  f.os.data_limited = true;  // RLIMIT_DATA is set
  SUBCASE("and an allocation failed under it") { f.ph.set_limit_mode(); }
  Span* pool = f.alloc(2, 0);
  Span* a = f.alloc(2, 1);
  REQUIRE((pool && a));
  CHECK(a->owner == 0);
  CHECK(a->start == pool->end_page());
  CHECK(f.ph.stats().total_pages < kBlock);
}

TEST_CASE("locality: a group takes another's pages when the heap cannot grow") {
  Fixture f;
  Span* a = f.alloc(kBlock, 1);
  REQUIRE(a);
  f.ph.free(a);
  f.os.limit = f.os.used;  // no more pages from the OS
  // Group 2 gets the pool's free pages, then group 1's block, before ENOMEM.
  size_t from_group1 = 0, got = 0;
  while (Span* s = f.alloc(4, 2)) {
    got += s->npages;
    if (s->owner == 1) from_group1 += s->npages;
  }
  CHECK(errno == ENOMEM);
  CHECK(from_group1 == kBlock);
  CHECK(got + f.ph.stats().free_pages == f.ph.stats().total_pages);
}

TEST_CASE("locality: each group's objects come from its own slabs") {
  Fixture f;
  FakeOs& os = f.os;
  Pagemap& pm = f.pm;
  CentralFreeList cfl;
  cfl.init(4, &f.ph);  // 64-byte objects
  std::vector<void*> got[2];
  for (int round = 0; round < 8; ++round) {
    for (uint32_t g = 1; g <= 2; ++g) {
      void* head = nullptr;
      REQUIRE(cfl.remove_range(&head, 64, g) == 64);
      for (void* p = head; p; p = next_of(p)) got[g - 1].push_back(p);
    }
  }
  for (uint32_t g = 1; g <= 2; ++g) {
    for (void* p : got[g - 1]) {
      Span* s = pm.span_of(p);
      CHECK(s->owner == g);
    }
  }
  CHECK(Fixture::block_of(page_of(got[0][0])) != Fixture::block_of(page_of(got[1][0])));
  // Objects go back to their own group's slabs, whoever returns them: group 2
  // then takes its own objects, not group 1's.
  for (void* p : got[0]) {
    next_of(p) = nullptr;
    cfl.insert_range(p);
  }
  void* head = nullptr;
  REQUIRE(cfl.remove_range(&head, 64, 2) == 64);
  for (void* p = head; p; p = next_of(p)) CHECK(pm.span_of(p)->owner == 2);
  // With no pages left for a new slab, a group takes another group's objects.
  os.limit = os.used;
  std::vector<void*> rest;
  for (;;) {
    void* h = nullptr;
    if (cfl.remove_range(&h, 64, 3) == 0) break;
    for (void* p = h; p; p = next_of(p)) rest.push_back(p);
  }
  CHECK(!rest.empty());
}
