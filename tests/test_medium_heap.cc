#include <doctest/doctest.h>
#include <string.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "fake_os.h"
#include "live_blocks.h"
#include "medium/medium_heap.h"

using namespace mm;

namespace {
struct Fixture : PageHeapFixture {
  MediumHeap h;
  Fixture() { h.init(&ph); }
  void* alloc(size_t n) {
    LockGuard g(h.lock());
    return h.alloc(chunk_size_for(n));
  }
  void free(void* p) {
    LockGuard g(h.lock());
    h.free_chunk(Chunk::of(p));
  }
  size_t csize(void* p) { return Chunk::of(p)->size(); }
};
}  // namespace

TEST_CASE("medium heap: exact 16-byte sizes, headers of 16 bytes, adjacent carving") {
  Fixture f;
  void* a = f.alloc(300);
  void* b = f.alloc(500);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(reinterpret_cast<uintptr_t>(a) % 16 == 0);
  CHECK(f.csize(a) == 304 + 16);
  CHECK(static_cast<char*>(b) == static_cast<char*>(a) + 320);  // split, not a new region
  CHECK(f.h.stats().regions == 1);
  CHECK(f.h.stats().region_bytes == kRegionMin);
  CHECK(f.h.stats().used_bytes == 320 + 528);
}

TEST_CASE("medium heap: coalesce left, right and both, then reuse the merged hole") {
  Fixture f;
  void* p[5];
  for (auto& x : p) x = f.alloc(496);  // 512-byte chunks
  void* guard = f.alloc(100);
  (void)guard;
  f.free(p[1]);
  f.free(p[3]);
  f.free(p[2]);  // merges with both neighbours: one 1536-byte hole
  CHECK(f.csize(p[1]) == 1536);
  void* big = f.alloc(1500);  // fits only in the merged hole
  CHECK(big == p[1]);
  f.free(big);
  f.free(p[0]);  // left of the hole: merge right
  CHECK(f.csize(p[0]) == 2048);
  f.free(p[4]);  // right of the hole: merge left
  CHECK(f.csize(p[0]) == 2560);
}

TEST_CASE("medium heap: the 4-of-5 merge pattern grows nothing") {
  Fixture f;
  std::vector<void*> v;
  for (int i = 0; i < 200; ++i) v.push_back(f.alloc(500));
  size_t before = f.h.stats().region_bytes;
  for (int i = 0; i < 200; ++i)
    if (i % 5 != 4) f.free(v[i]);
  for (int i = 0; i < 40; ++i) {
    void* q = f.alloc(1900);
    REQUIRE(q);
    memset(q, 0xab, 1900);
  }
  CHECK(f.h.stats().region_bytes == before);
}

TEST_CASE("medium heap: best fit among ranged bins") {
  Fixture f;
  void* a = f.alloc(4000);
  void* g1 = f.alloc(64);
  void* b = f.alloc(3000);
  void* g2 = f.alloc(64);
  void* c = f.alloc(3500);
  void* g3 = f.alloc(64);
  (void)g1;
  (void)g2;
  (void)g3;
  f.free(a);
  f.free(b);
  f.free(c);
  CHECK(f.alloc(3400) == c);  // 3500 is the tightest fit
  CHECK(f.alloc(2900) == b);
}

TEST_CASE("medium heap: realloc grows into a free right neighbour and shrinks in place") {
  Fixture f;
  void* a = f.alloc(1000);
  void* b = f.alloc(1000);
  void* c = f.alloc(100);
  (void)c;
  memset(a, 7, 1000);
  // realloc's look at the neighbour without the lock agrees with the locked resize.
  CHECK_FALSE(MediumHeap::may_grow_in_place(Chunk::of(a), chunk_size_for(1800)));  // b in use
  f.free(b);
  CHECK(MediumHeap::may_grow_in_place(Chunk::of(a), chunk_size_for(1800)));
  CHECK_FALSE(MediumHeap::may_grow_in_place(Chunk::of(a), chunk_size_for(5000)));
  {
    LockGuard g(f.h.lock());
    CHECK(f.h.resize_in_place(Chunk::of(a), chunk_size_for(1800)));
  }
  CHECK(f.csize(a) == chunk_size_for(1800));
  CHECK(static_cast<unsigned char*>(a)[999] == 7);
  {
    LockGuard g(f.h.lock());
    CHECK_FALSE(f.h.resize_in_place(Chunk::of(a), chunk_size_for(5000)));  // c is in the way
    CHECK(f.h.resize_in_place(Chunk::of(a), chunk_size_for(400)));
  }
  CHECK(f.csize(a) == chunk_size_for(400));
  void* d = f.alloc(1500);  // the shrunk tail merged with the leftover: fits
  CHECK(static_cast<char*>(d) == static_cast<char*>(a) + chunk_size_for(400));
}

TEST_CASE("medium heap: growth in place takes a quarter more room, or what the neighbour has") {
  Fixture f;
  void* a = f.alloc(4000);
  void* b = f.alloc(8000);
  void* c = f.alloc(100);
  void* d = f.alloc(20000);
  void* e = f.alloc(1100);
  void* g2 = f.alloc(100);
  (void)c, (void)g2;
  size_t d_and_e = f.csize(d) + f.csize(e);
  f.free(b);
  f.free(e);
  size_t before = f.csize(a);
  {
    LockGuard g(f.h.lock());
    CHECK(f.h.resize_in_place(Chunk::of(a), chunk_size_for(4100)));
    // A neighbour too short for the quarter: growth takes all it has.
    CHECK(f.h.resize_in_place(Chunk::of(d), chunk_size_for(21000)));
  }
  CHECK(f.csize(a) >= before + before / 4);
  CHECK(f.csize(d) == d_and_e);
  // The next appends fit without the heap.
  CHECK(MediumHeap::resize_is_noop(Chunk::of(a), chunk_size_for(4900)));
}

TEST_CASE("medium heap: a chunk shrunk by less than half keeps its slack") {
  Fixture f;
  void* a = f.alloc(8000);
  void* b = f.alloc(100);  // keeps a's tail from merging with the top
  (void)b;
  size_t full = f.csize(a);
  memset(a, 3, 8000);
  CHECK(MediumHeap::resize_is_noop(Chunk::of(a), chunk_size_for(4100)));
  CHECK_FALSE(MediumHeap::resize_is_noop(Chunk::of(a), chunk_size_for(3800)));
  {
    LockGuard g(f.h.lock());
    CHECK(f.h.resize_in_place(Chunk::of(a), chunk_size_for(5000)));
  }
  CHECK(f.csize(a) == full);  // slack kept for the next growth
  {
    LockGuard g(f.h.lock());
    CHECK(f.h.resize_in_place(Chunk::of(a), chunk_size_for(3000)));
  }
  CHECK(f.csize(a) == chunk_size_for(3000));  // more than half: the tail is free again
  CHECK(static_cast<unsigned char*>(a)[2999] == 3);
  void* c = f.alloc(4000);  // the freed tail serves it
  CHECK(static_cast<char*>(c) == static_cast<char*>(a) + chunk_size_for(3000));
}

TEST_CASE("medium heap: regions grow in place and wholly free regions go back") {
  Fixture f;
  std::vector<void*> v;
  for (int i = 0; i < 600; ++i) v.push_back(f.alloc(1000));  // ~600 KiB: grows the top
  CHECK(f.h.stats().regions == 1);                           // contiguous growth kept one region
  // A second region forced by a span in the way.
  Span* block = f.ph.alloc(1, SpanState::kLarge, kClsLarge);
  for (int i = 0; i < 200; ++i) v.push_back(f.alloc(1000));
  CHECK(f.h.stats().regions == 2);
  for (void* p : v) f.free(p);
  // The newest region stays as the top; the older one went back to the page heap.
  CHECK(f.h.stats().regions == 1);
  {
    LockGuard g(f.h.lock());
    f.h.trim();
  }
  CHECK(f.h.stats().regions == 0);
  f.ph.free(block);
  PageHeapStats st = f.ph.stats();
  CHECK(st.free_pages == st.total_pages);
}

TEST_CASE("medium heap: remote frees from other threads are merged by the owner") {
  Fixture f;
  constexpr int kThreads = 4, kPer = 500;
  std::vector<void*> blocks;
  for (int i = 0; i < kThreads * kPer; ++i) {
    void* p = f.alloc(300 + (i % 7) * 40);
    memset(p, i & 0xff, 300);
    blocks.push_back(p);
  }
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = t * kPer; i < (t + 1) * kPer; ++i) {
        auto* p = static_cast<unsigned char*>(blocks[i]);
        if (p[299] != (i & 0xff)) FAIL("contents changed");
        f.h.remote_push(Chunk::of(p));
      }
    });
  // The owner keeps allocating meanwhile, under its lock.
  std::vector<void*> mine;
  for (int i = 0; i < 2000; ++i) mine.push_back(f.alloc(400));
  for (auto& th : ts) th.join();
  for (void* p : mine) f.free(p);
  {
    LockGuard g(f.h.lock());
    f.h.drain_remote();
  }
  CHECK(f.h.stats().used_bytes == 0);
}

TEST_CASE("medium heap: a big free gap goes back to the page heap; a live chunk pins little") {
  Fixture f;
  f.ph.set_grow_step(1);
  std::vector<void*> v;
  for (int i = 0; i < 64; ++i) v.push_back(f.alloc(16000));  // about 1 MiB in one region
  size_t free_before = f.ph.stats().free_pages;
  // Free all but the first and the last: the gap between them is whole pages.
  for (size_t i = 1; i + 1 < v.size(); ++i) f.free(v[i]);
  size_t returned = f.ph.stats().free_pages - free_before;
  // Each cut leaves at most kRegionReturnMin of free chunks behind.
  CHECK(returned * kPageSize >= 62 * 16000 - kRegionReturnMin - 2 * kPageSize);
  CHECK(f.h.stats().region_bytes <= 2 * 16016 + kRegionReturnMin + 4 * kPageSize);
  // The chunks around the gap are intact and can be freed; new allocations work.
  void* x = f.alloc(5000);
  REQUIRE(x);
  f.free(v.front());
  f.free(v.back());
  f.free(x);
  {
    LockGuard g(f.h.lock());
    f.h.trim();
  }
  CHECK(f.h.stats().used_bytes == 0);
}

TEST_CASE("medium heap: random sizes, splits and purges keep every live chunk intact") {
  // Region splitting, in-place purging and trims interleaved with random traffic;
  // the debug build checks boundary tags on every insert and merge.
  Fixture f;
  f.ph.set_grow_step(1);
  f.ph.set_purge_threshold(64);
  std::vector<LiveBlock> live;
  XorShift rnd{12345};
  for (int op = 0; op < 20000; ++op) {
    if (live.size() < 400 && rnd() % 3 != 0) {
      size_t n = 300 + rnd() % (rnd() % 8 == 0 ? 200000 : 5000);
      void* run[16];
      int k = 1;
      if (rnd() % 4 == 0) {  // a thread cache's refill: a run of one size
        LockGuard g(f.h.lock());
        k = f.h.alloc_run(chunk_size_for(n), static_cast<int>(1 + rnd() % 16), run);
      } else {
        run[0] = f.alloc(n);
      }
      REQUIRE(k > 0);
      for (int i = 0; i < k; ++i) {
        REQUIRE(run[i]);
        live.push_back({static_cast<unsigned char*>(run[i]), n});
        live.back().fill();
      }
    } else if (!live.empty()) {
      size_t i = rnd() % live.size();
      LiveBlock l = live[i];
      l.check();
      f.free(l.p);
      live[i] = live.back();
      live.pop_back();
    }
    if (op % 5000 == 4999) {
      LockGuard g(f.h.lock());
      f.h.trim();
    }
  }
  for (LiveBlock l : live) {
    l.check();
    f.free(l.p);
  }
  CHECK(f.h.stats().used_bytes == 0);
}

TEST_CASE("medium heap: a new region's start and each extension are mapped in one call") {
  Fixture f;
  void* p = f.alloc(1000);
  REQUIRE(p != nullptr);
  // The region's first 32 KiB, where the first chunks are carved.
  REQUIRE(f.os.populated.size() == 1);
  char* base = static_cast<char*>(f.os.populated[0].first);
  CHECK(f.os.populated[0].second == kRegionGrowMin);
  CHECK(base == reinterpret_cast<char*>(Chunk::of(p)));
  // Growing past the region's 128 KiB extends it in place: the pages added are
  // populated, each range right after the one before.
  std::vector<void*> v{p};
  while (f.os.populated.size() < 3) v.push_back(f.alloc(1000));
  CHECK(f.h.stats().regions == 1);
  CHECK(static_cast<char*>(f.os.populated[1].first) == base + kRegionMin);
  CHECK(f.os.populated[1].second >= kRegionGrowMin);
  CHECK(static_cast<char*>(f.os.populated[2].first) ==
        static_cast<char*>(f.os.populated[1].first) + f.os.populated[1].second);
  // A second region (a span in the way of the first) is mapped whole: the heap is
  // growing.
  Span* block = f.ph.alloc(1, SpanState::kLarge, kClsLarge);
  size_t before = f.os.populated.size();
  while (f.h.stats().regions < 2) v.push_back(f.alloc(1000));
  REQUIRE(f.os.populated.size() == before + 1);
  Span* second = f.ph.pagemap()->span_of(f.os.populated.back().first);
  REQUIRE(second != nullptr);
  CHECK(f.os.populated.back().first == reinterpret_cast<void*>(second->base()));
  CHECK(f.os.populated.back().second == second->bytes());
  for (void* q : v) f.free(q);
  f.ph.free(block);
}

TEST_CASE("medium heap: a run of chunks is carved in address order, holes first") {
  Fixture f;
  const size_t cs = chunk_size_for(300);
  void* run[16];
  int k;
  {
    LockGuard g(f.h.lock());
    k = f.h.alloc_run(cs, 16, run);
  }
  REQUIRE(k == 16);
  for (int i = 1; i < 16; ++i)
    CHECK(static_cast<char*>(run[i]) == static_cast<char*>(run[i - 1]) + cs);
  for (int i = 0; i < 16; ++i) CHECK(f.csize(run[i]) == cs);
  CHECK(f.h.stats().used_bytes == 16 * cs);
  // The rest of the fit went back to a bin: the next chunk follows the run.
  void* next = f.alloc(300);
  CHECK(static_cast<char*>(next) == static_cast<char*>(run[15]) + cs);
  // Holes of one chunk each (every other chunk freed): a run takes them all
  // (each an exact fit), then carves the rest from the top.
  for (int i = 0; i < 16; i += 2) f.free(run[i]);
  void* again[12];
  {
    LockGuard g(f.h.lock());
    k = f.h.alloc_run(cs, 12, again);
  }
  REQUIRE(k == 12);
  std::vector<void*> holes, got(again, again + 12);
  for (int i = 0; i < 16; i += 2) holes.push_back(run[i]);
  std::sort(got.begin(), got.end());
  for (void* h : holes) CHECK(std::binary_search(got.begin(), got.end(), h));
  for (int i = 8; i < 12; ++i) CHECK(static_cast<char*>(again[i]) > static_cast<char*>(next));
  for (int i = 0; i < 12; ++i) {
    memset(again[i], 0x5a, 300);
    f.free(again[i]);
  }
  for (int i = 1; i < 16; i += 2) f.free(run[i]);
  f.free(next);
  CHECK(f.h.stats().used_bytes == 0);
}
