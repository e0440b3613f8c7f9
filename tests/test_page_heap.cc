#include <doctest/doctest.h>
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "fake_os.h"
#include "os/os.h"

using namespace mm;

namespace {
struct Fixture : PageHeapFixture {
  Span* alloc(size_t n) { return ph.alloc(n, SpanState::kLarge, kClsLarge); }
};
}  // namespace

TEST_CASE("page heap: split hands out the low pages and keeps the rest free") {
  Fixture f;
  f.ph.set_grow_step(16);
  Span* a = f.alloc(3);
  REQUIRE(a);
  CHECK(a->start == f.os.first_page());
  CHECK(a->npages == 3);
  CHECK(f.pm.span(a->start + 2) == a);
  CHECK(f.pm.cls(a->start) == kClsLarge);
  PageHeapStats st = f.ph.stats();
  CHECK(st.total_pages == 16);
  CHECK(st.free_pages == 13);
  CHECK(st.free_spans == 1);
  Span* b = f.alloc(13);
  CHECK(b->start == a->start + 3);
  CHECK(f.ph.stats().free_pages == 0);
  CHECK(f.os.grow_calls == 1);
}

TEST_CASE("page heap: coalesce left, right and both") {
  Fixture f;
  f.ph.set_grow_step(12);
  Span* a = f.alloc(4);
  Span* b = f.alloc(4);
  Span* c = f.alloc(4);
  uintptr_t base = a->start;
  SUBCASE("left") {
    f.ph.free(a);
    f.ph.free(b);  // merges with a on its left
    CHECK(f.ph.stats().free_spans == 1);
    Span* m = f.pm.span(base);
    CHECK(m->npages == 8);
    CHECK(f.pm.span(base + 7) == m);
  }
  SUBCASE("right") {
    f.ph.free(c);
    f.ph.free(b);  // merges with c on its right
    CHECK(f.ph.stats().free_spans == 1);
    CHECK(f.pm.span(base + 4)->npages == 8);
    CHECK(f.pm.span(base + 4)->start == base + 4);
  }
  SUBCASE("both") {
    f.ph.free(a);
    f.ph.free(c);
    CHECK(f.ph.stats().free_spans == 2);
    f.ph.free(b);
    CHECK(f.ph.stats().free_spans == 1);
    Span* m = f.pm.span(base + 11);
    CHECK(m->start == base);
    CHECK(m->npages == 12);
    // The merged span serves a request as large as all three.
    Span* big = f.alloc(12);
    CHECK(big->start == base);
    CHECK(f.os.grow_calls == 1);
  }
}

TEST_CASE("page heap: best fit picks the smallest span that fits") {
  Fixture f;
  Span* s[7];
  size_t sizes[7] = {5, 1, 3, 1, 4, 1, 200};
  for (int i = 0; i < 7; ++i) s[i] = f.alloc(sizes[i]);
  uintptr_t three = s[2]->start, four = s[4]->start;
  f.ph.free(s[0]);  // 5 free
  f.ph.free(s[2]);  // 3 free
  f.ph.free(s[4]);  // 4 free
  Span* x = f.alloc(3);
  CHECK(x->start == three);
  Span* y = f.alloc(4);
  CHECK(y->start == four);
  // Large spans (over the exact lists) are best fit too.
  CHECK(f.alloc(5)->start ==
        f.os.first_page());  // the 5-page hole, so the separators below go to the top
  Span* l1 = f.alloc(300);
  Span* sep = f.alloc(1);
  Span* l2 = f.alloc(150);
  Span* sep2 = f.alloc(1);
  (void)sep;
  (void)sep2;
  uintptr_t l2start = l2->start;
  f.ph.free(l1);
  f.ph.free(l2);
  Span* z = f.alloc(140);
  CHECK(z->start == l2start);
}

TEST_CASE("page heap: contiguous growth extends the free top span") {
  Fixture f;
  Span* a = f.alloc(2);
  f.ph.free(a);          // 2 free pages at the top
  Span* b = f.alloc(5);  // grows by 3 only... or 5, but must merge with the top
  CHECK(b->start == f.os.first_page());
  CHECK(f.os.used == 5 * kPageSize);
}

TEST_CASE("page heap: away from a data limit the heap grows by an eighth of itself") {
  Fixture f;
  f.ph.set_grow_step(kHeapGrowPages);
  Span* big = f.alloc(2048);  // 16 MiB: the step is now 256 pages, capped at 128
  size_t used = f.os.used;
  Span* a = f.alloc(1);
  CHECK(f.os.used - used == kHeapGrowPages * kPageSize);  // limited: the step
  f.os.data_limited = false;
  Span* b = f.alloc(kHeapGrowPages);  // what the step left is too short
  CHECK(f.os.used - used == (kHeapGrowPages + kHeapGrowMaxPages) * kPageSize);
  f.ph.free(a);
  f.ph.free(b);
  f.ph.free(big);
}

TEST_CASE("page heap: non-contiguous growth keeps separate spans") {
  Fixture f;
  Span* a = f.alloc(2);
  f.os.gap_next = kPageSize;
  Span* b = f.alloc(2);
  CHECK(b->start == a->end_page() + 1);
  f.ph.free(a);
  f.ph.free(b);
  CHECK(f.ph.stats().free_spans == 2);
}

TEST_CASE("page heap: extend and shrink in place") {
  Fixture f;
  f.ph.set_grow_step(10);
  Span* a = f.alloc(2);
  CHECK(f.ph.extend(a, 6));
  CHECK(a->npages == 6);
  CHECK(f.pm.span(a->start + 5) == a);
  CHECK(f.pm.cls(a->start + 5) == kClsLarge);
  CHECK(f.ph.stats().free_pages == 4);
  // At the top of the heap, extend grows the source.
  CHECK(f.ph.extend(a, 30));
  CHECK(a->npages == 30);
  f.ph.shrink(a, 3);
  CHECK(a->npages == 3);
  CHECK(f.pm.span(a->start + 3)->state == SpanState::kFree);
  // Blocked by a neighbour in use: no.
  Span* b = f.alloc(27);
  CHECK(b->start == a->end_page());
  CHECK_FALSE(f.ph.extend(a, 4));
}

TEST_CASE("page heap: free pages past the threshold go back to the OS") {
  Fixture f;
  f.ph.set_purge_threshold(8);
  Span* a = f.alloc(20);
  Span* guard = f.alloc(1);
  Span* b = f.alloc(1);
  Span* guard2 = f.alloc(1);
  (void)guard;
  (void)guard2;
  CHECK(f.os.purged.empty());
  void* a_base = a->base();
  f.ph.free(a);  // freed just now while the heap hands pages out: it stays a moment
  CHECK(f.os.purged.empty());
  f.os.clock_ms = 100;
  f.ph.free(b);  // past the threshold again: a is old enough now
  REQUIRE(f.os.purged.size() == 1);
  CHECK(f.os.purged[0].first == a_base);
  CHECK(f.os.purged[0].second == 20 * kPageSize);
  CHECK(f.ph.stats().purged_pages == 20);
  // Released pages are reused without new growth.
  size_t grows = f.os.grow_calls;
  Span* c = f.alloc(20);
  CHECK(f.os.grow_calls == grows);
  f.ph.purge_free(0);
  (void)c;
}

TEST_CASE("page heap: exhaustion fails cleanly and leaves the heap usable") {
  Fixture f;
  f.os.limit = 64 * kPageSize;
  f.ph.set_grow_step(16);
  Span* a = f.alloc(40);
  REQUIRE(a);
  CHECK(f.alloc(40) == nullptr);
  CHECK(errno == ENOMEM);
  // Grows by exactly the need when the step does not fit.
  Span* b = f.alloc(24);
  REQUIRE(b);
  CHECK(f.os.used == 64 * kPageSize);
  f.ph.free(a);
  Span* c = f.alloc(40);
  CHECK(c);
}

TEST_CASE("page heap: aligned allocation trims both ends back to the free lists") {
  Fixture f;
  f.ph.set_grow_step(64);
  Span* pad = f.alloc(1);
  (void)pad;
  Span* a = f.ph.alloc_aligned(3, 8, SpanState::kLarge, kClsLarge);
  REQUIRE(a);
  CHECK(a->start % 8 == 0);
  CHECK(a->npages == 3);
  // Everything but the pad page and the 3 aligned pages is back in the free lists.
  PageHeapStats st = f.ph.stats();
  CHECK(st.free_pages == st.total_pages - 4);
}

TEST_CASE("page heap: free spans decay to the OS, oldest first, after the decay time") {
  Fixture f;
  f.ph.set_decay_ms(1000);
  Span* a = f.alloc(4);
  Span* g1 = f.alloc(1);
  Span* b = f.alloc(4);
  Span* g2 = f.alloc(1);
  (void)g1;
  (void)g2;
  uintptr_t a_base = reinterpret_cast<uintptr_t>(a->base());
  f.ph.free(a);  // at 0 ms
  f.os.clock_ms = 600;
  f.ph.free(b);  // at 600 ms
  CHECK(f.os.purged.empty());
  f.os.clock_ms = 1100;  // a is due, b is not
  f.ph.purge_decayed();
  REQUIRE(f.os.purged.size() == 1);
  CHECK(reinterpret_cast<uintptr_t>(f.os.purged[0].first) == a_base);
  f.os.clock_ms = 1700;
  f.ph.purge_decayed();
  CHECK(f.os.purged.size() == 2);
  CHECK(f.ph.stats().purged_pages == 8);
}

TEST_CASE("page heap: past the threshold, a churning heap keeps what it freed last") {
  Fixture f;
  f.ph.set_purge_threshold(10);
  Span* s[6];
  for (auto& x : s) x = f.alloc(4);
  Span* guard = f.alloc(1);
  (void)guard;
  uintptr_t s4_base = reinterpret_cast<uintptr_t>(s[4]->base());
  f.ph.free(s[0]);
  f.ph.free(s[2]);
  Span* x = f.alloc(4);  // the heap hands pages out again: it churns
  CHECK(x->start == s[0]->start + 8);
  f.ph.free(s[4]);  // at 0 ms
  f.os.clock_ms = 100;
  f.ph.free(s[1]);  // merges with s[0]: as new as its newest part
  // 12 committed free pages, past the threshold: the oldest (s[4]) goes; the
  // merged span is too young to go while the heap churns.
  REQUIRE(f.os.purged.size() == 1);
  CHECK(reinterpret_cast<uintptr_t>(f.os.purged[0].first) == s4_base);
}

TEST_CASE("page heap: a churning heap keeps as many free pages as large blocks in use") {
  // malloc_large: blocks of 5..25 MiB replaced at random. Purging past one
  // threshold sent the next block that no kept span fitted to fresh pages.
  Fixture f;
  f.ph.set_purge_threshold(8);
  size_t large = 38 << kPageShift;  // the large tier's count
  f.ph.set_large_bytes_source(&large);
  Span* s[10];
  for (auto& x : s) {
    x = f.alloc(4);
    f.alloc(1);  // a guard: no merging
  }
  for (int i = 0; i < 4; ++i) {
    f.ph.free(s[i]);
    f.alloc(1);  // the heap churns
  }
  // 12 free pages, past the threshold of 8, with 38 pages of large blocks: kept.
  CHECK(f.os.purged.empty());
  CHECK(f.ph.stats().free_pages == 12);
  // With fewer than two thresholds of large blocks in use, the threshold applies
  // again (to spans past the grace time of a churning heap).
  large = 15 << kPageShift;
  f.os.clock_ms = 100;
  f.ph.free(s[4]);
  CHECK_FALSE(f.os.purged.empty());
}

TEST_CASE("page heap: a heap that only frees purges at once, past four thresholds freed") {
  Fixture f;
  f.ph.set_purge_threshold(8);
  Span* s[12];
  for (auto& x : s) {
    x = f.alloc(4);
    f.alloc(1);  // a guard: no merging
  }
  for (int i = 0; i < 7; ++i) f.ph.free(s[i]);  // 28 pages: still the churning rule
  CHECK(f.os.purged.empty());
  for (int i = 7; i < 12; ++i) f.ph.free(s[i]);  // 48 pages freed without an allocation
  CHECK_FALSE(f.os.purged.empty());
  CHECK(f.ph.stats().free_pages - f.ph.stats().purged_pages <= 2);
}

TEST_CASE("page heap: cut frees the middle of a span; both ends keep their state") {
  Fixture f;
  f.ph.set_grow_step(20);
  Span* s = f.alloc(10);
  Span* guard = f.alloc(10);
  (void)guard;
  uintptr_t base = s->start;
  bool ok;
  Span* right = f.ph.cut(s, base + 3, base + 7, &ok);
  REQUIRE(ok);
  REQUIRE(right);
  CHECK(s->start == base);
  CHECK(s->npages == 3);
  CHECK(right->start == base + 7);
  CHECK(right->npages == 3);
  CHECK(right->state == SpanState::kLarge);
  CHECK(f.pm.span(base + 8) == right);
  CHECK(f.pm.span(base + 4)->state == SpanState::kFree);
  // A cut at the start: the span keeps the right part.
  Span* r2 = f.ph.cut(right, base + 7, base + 8, &ok);
  CHECK(r2 == right);
  CHECK(right->start == base + 8);
  // The freed pages merged: 4 + 1 pages in one free span.
  CHECK(f.pm.span(base + 3) == f.pm.span(base + 7));
  CHECK(f.pm.span(base + 3)->npages == 5);
}

TEST_CASE("page heap: under a data limit purged spans are decommitted and committed on use") {
  Fixture f;
  f.ph.set_grow_step(1);
  f.ph.set_limit_mode();
  Span* a = f.alloc(6);
  Span* guard = f.alloc(1);
  (void)guard;
  uintptr_t start = a->start;
  f.ph.free(a);
  f.ph.purge_free(0);
  CHECK(f.os.purged.size() == 1);  // decommitted (the fake records it as a purge)
  size_t grows = f.os.grow_calls;
  f.os.refuse_commit = true;  // the limit refuses: the carve is undone, nothing is lost
  f.os.limit = f.os.used;     // and the heap cannot grow either
  CHECK(f.alloc(4) == nullptr);
  CHECK(f.ph.stats().free_pages == 6);
  CHECK(f.pm.span(start)->npages == 6);
  f.os.refuse_commit = false;
  Span* b = f.alloc(4);
  REQUIRE(b);
  CHECK(b->start == start);
  CHECK(f.os.grow_calls == grows);
}

TEST_CASE("page heap: randomized operations keep every span's pagemap entries") {
  // Large blocks map only their first and last pages (PageHeap::map); slabs and
  // medium regions map every page. Whatever the order of operations, each live
  // span's ends and class bytes must be right, no two live spans may share a
  // page, and once everything is freed the heap is one free span again.
  Fixture f;
  f.ph.set_grow_step(16);
  f.ph.set_purge_threshold(size_t{1} << 30);
  std::vector<Span*> live;
  std::vector<Span*> owner(FakeOs::kArena >> kPageShift, nullptr);
  uint64_t rng = 12345;
  auto rnd = [&](uint64_t n) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng % n;
  };
  auto check = [&] {
    std::fill(owner.begin(), owner.end(), nullptr);
    size_t used = 0;
    for (Span* s : live) {
      CHECK(f.pm.span(s->start) == s);
      CHECK(f.pm.span(s->end_page() - 1) == s);
      for (uintptr_t p = s->start; p < s->end_page(); ++p) {
        Span*& o = owner[p - f.os.first_page()];
        CHECK(o == nullptr);
        o = s;
        CHECK(f.pm.cls(p) == s->cls);
        if (s->state != SpanState::kLarge) CHECK(f.pm.span(p) == s);
      }
      used += s->npages;
    }
    PageHeapStats st = f.ph.stats();
    CHECK(st.total_pages - st.free_pages == used);
  };
  for (int op = 0; op < 3000; ++op) {
    size_t k = live.empty() ? 0 : rnd(live.size());
    switch (rnd(6)) {
      case 0:
      case 1: {
        bool large = rnd(3) != 0;
        Span* s = f.ph.alloc(1 + rnd(40), large ? SpanState::kLarge : SpanState::kMedium,
                             large ? kClsLarge : kClsMedium);
        if (s) live.push_back(s);
        break;
      }
      case 2:
        if (Span* s =
                f.ph.alloc_aligned(1 + rnd(20), size_t{1} << rnd(4), SpanState::kLarge, kClsLarge))
          live.push_back(s);
        break;
      case 3:
        if (!live.empty()) {
          f.ph.free(live[k]);
          live.erase(live.begin() + static_cast<long>(k));
        }
        break;
      case 4:
        if (!live.empty()) f.ph.extend(live[k], live[k]->npages + 1 + rnd(20), rnd(2) != 0);
        break;
      case 5:
        if (!live.empty() && live[k]->npages > 1)
          f.ph.shrink(live[k], 1 + rnd(live[k]->npages - 1));
        break;
    }
    check();
  }
  for (Span* s : live) f.ph.free(s);
  live.clear();
  check();
  CHECK(f.ph.stats().free_spans == 1);
}

TEST_CASE("os: populate maps a range's pages at once and keeps what they hold") {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t n = 64 * page;
  void* m = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  REQUIRE(m != MAP_FAILED);
  char* p = static_cast<char*>(m);
  p[5 * page] = 42;
  std::vector<unsigned char> vec(64);
  REQUIRE(mincore(p, n, vec.data()) == 0);
  CHECK(std::count_if(vec.begin(), vec.end(), [](unsigned char c) { return c & 1; }) <= 1);
  bool mapped = os::populate(p, n);
  REQUIRE(mincore(p, n, vec.data()) == 0);
  int resident = static_cast<int>(
      std::count_if(vec.begin(), vec.end(), [](unsigned char c) { return c & 1; }));
  // Kernels before 5.14 lack MADV_POPULATE_WRITE: then nothing is mapped ahead.
  if (mapped) CHECK(resident == 64);
  CHECK(p[5 * page] == 42);
  for (size_t i = 0; i < n; i += page)
    if (i != 5 * page) CHECK(p[i] == 0);
  munmap(m, n);
}
