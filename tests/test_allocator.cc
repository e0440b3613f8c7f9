// The whole allocator through its internal entry points (mm::alloc and friends),
// inside an ordinary process: glibc's malloc stays the process's malloc.
#include <doctest/doctest.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <thread>
#include <vector>

#include "common/config.h"
#include "common/tuning.h"
#include "frontend/allocator.h"
#include "frontend/cache_budget.h"
#include "frontend/medium_backend.h"
#include "frontend/pressure.h"
#include "frontend/thread_cache.h"
#include "page/pagemap.h"

using namespace mm;

namespace {
#if defined(MYMALLOC_SANITIZER_BUILD)
constexpr int kScale = 8;  // sanitizers run the same tests with less work
#else
constexpr int kScale = 1;
#endif

void fill(void* p, size_t n, unsigned seed) {
  auto* c = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) c[i] = static_cast<unsigned char>(seed + i * 31);
}
bool check(const void* p, size_t n, unsigned seed) {
  auto* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (c[i] != static_cast<unsigned char>(seed + i * 31)) return false;
  return true;
}
size_t random_size(std::mt19937& rng) {
  switch (rng() % 8) {
    case 0:
      return rng() % 4;
    case 1:
    case 2:
    case 3:
      return rng() % 256 + 1;
    case 4:
    case 5:
      return rng() % 1024 + 1;
    case 6:
      return rng() % (128 * 1024) + 1;
    default:
      return rng() % (1 << 20) + 1;
  }
}
}  // namespace

TEST_CASE("allocator: every tier, aligned to 16, usable size at least the request") {
  std::mt19937 rng(1);
  struct Block {
    void* p;
    size_t n;
    unsigned seed;
  };
  std::vector<Block> live;
  for (unsigned i = 0; i < 20000 / kScale; ++i) {
    size_t n = random_size(rng);
    void* p = alloc(n);
    REQUIRE(p);
    CHECK(reinterpret_cast<uintptr_t>(p) % 16 == 0);
    CHECK(usable_size(p) >= n);
    fill(p, n, i);
    live.push_back({p, n, i});
    if (rng() % 3 == 0) {
      size_t k = rng() % live.size();
      REQUIRE(check(live[k].p, live[k].n, live[k].seed));
      dealloc(live[k].p);
      live[k] = live.back();
      live.pop_back();
    }
  }
  for (auto& b : live) {
    REQUIRE(check(b.p, b.n, b.seed));
    dealloc(b.p);
  }
}

TEST_CASE("allocator: malloc(0) is unique, free(NULL) is fine, overflow is ENOMEM") {
  void* a = alloc(0);
  void* b = alloc(0);
  CHECK(a);
  CHECK(b);
  CHECK(a != b);
  dealloc(a);
  dealloc(b);
  dealloc(nullptr);
  errno = 0;
  CHECK(alloc(SIZE_MAX) == nullptr);
  CHECK(errno == ENOMEM);
  errno = 0;
  CHECK(alloc_zeroed(SIZE_MAX / 2, 3) == nullptr);
  CHECK(errno == ENOMEM);
  errno = 0;
  CHECK(alloc(size_t{PTRDIFF_MAX} + 1) == nullptr);
  CHECK(errno == ENOMEM);
}

TEST_CASE("allocator: calloc zeroes reused memory") {
  for (int round = 0; round < 3; ++round) {
    std::vector<void*> v;
    for (size_t n : {24, 200, 700, 5000, 100000, 300000}) {
      void* p = alloc(n);
      memset(p, 0xff, n);
      v.push_back(p);
    }
    for (void* p : v) dealloc(p);
    for (size_t n : {24, 200, 700, 5000, 100000, 300000}) {
      auto* p = static_cast<unsigned char*>(alloc_zeroed(1, n));
      REQUIRE(p);
      for (size_t i = 0; i < n; ++i) REQUIRE(p[i] == 0);
      dealloc(p);
    }
  }
}

TEST_CASE("allocator: realloc keeps contents across every tier change") {
  size_t sizes[] = {1,     17,     256,    257,    1000,    1025, 4000,
                    70000, 131072, 131073, 500000, 3 << 20, 100,  8};
  void* p = alloc(1);
  size_t have = 1;
  fill(p, 1, 9);
  for (size_t n : sizes) {
    void* q = realloc_block(p, n);
    REQUIRE(q);
    CHECK(check(q, have < n ? have : n, 9));
    fill(q, n, 9);
    p = q;
    have = n;
  }
  CHECK(realloc_block(p, 0) == nullptr);  // frees, like glibc
}

TEST_CASE("allocator: large realloc grows in place when the next pages are free") {
  void* p = alloc(200000);
  void* q = realloc_block(p, 400000);
  void* r = realloc_block(q, 300000);
  CHECK(r == q);  // shrinking never moves
  dealloc(r);
}

TEST_CASE("allocator: aligned allocation up to 2 MiB") {
  for (size_t align = 16; align <= (size_t{2} << 20); align <<= 1) {
    for (size_t n : {1, 100, 5000, 300000}) {
      void* p = alloc_aligned(align, n);
      REQUIRE(p);
      CHECK(reinterpret_cast<uintptr_t>(p) % align == 0);
      CHECK(usable_size(p) >= n);
      memset(p, 1, n);
      dealloc(p);
    }
  }
}

TEST_CASE("allocator: cross-thread frees with contents checked, all tiers") {
  constexpr int kThreads = 4, kPer = 20000 / kScale;
  struct Slot {
    std::atomic<void*> p{nullptr};
    size_t n = 0;
  };
  static Slot slots[kThreads][256];
  std::atomic<int> bad{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < kPer; ++i) {
        // Free a block another thread made, after checking it.
        Slot& victim = slots[(t + 1) % kThreads][rng() % 256];
        void* old = victim.p.exchange(nullptr);
        if (old) {
          size_t n = reinterpret_cast<size_t*>(old)[0];
          if (!check(static_cast<char*>(old) + 8, n - 8, static_cast<unsigned>(n))) bad++;
          dealloc(old);
        }
        size_t n = random_size(rng) % 20000 + 8;
        void* p = alloc(n);
        reinterpret_cast<size_t*>(p)[0] = n;
        fill(static_cast<char*>(p) + 8, n - 8, static_cast<unsigned>(n));
        Slot& mine = slots[t][rng() % 256];
        void* prev = mine.p.exchange(p);
        if (prev) dealloc(prev);
      }
    });
  for (auto& th : ts) th.join();
  for (auto& row : slots)
    for (auto& s : row)
      if (void* p = s.p.exchange(nullptr)) dealloc(p);
  CHECK(bad == 0);
}

TEST_CASE("allocator: threads cycling working sets keep to their own groups' slabs") {
  // threadtest's pattern with contents checked: each thread allocates more than
  // its cache holds, then frees it all, so batches overflow into the transfer
  // caches (its own shards and others') and the central lists. A thread takes
  // objects from its locality group's slabs only (page_heap.h): it borrows
  // another shard's batch only when that batch is of its own group.
  constexpr int kThreads = 3, kObjects = 40000 / kScale, kRounds = 4;
  relieve_pressure();  // the batches earlier tests' threads left go to their slabs
  std::atomic<int> bad{0}, foreign{0}, total{0}, started{0}, done{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      // No thread exits before all are done: an exiting thread parks its cache,
      // and a thread that starts later adopts it, objects of another group.
      for (started++; started < kThreads;) std::this_thread::yield();
      std::vector<void*> v(kObjects);
      for (int r = 0; r < kRounds; ++r) {
        for (int i = 0; i < kObjects; ++i) {
          v[i] = alloc(64);
          uint32_t group = locality_group(&t_cache);  // set up by the first alloc
          fill(v[i], 64, static_cast<unsigned>(t * 7 + i));
          Span* s = g_pagemap.span_of(v[i]);
          if (!s || s->owner_racy() != group) foreign++;
          total++;
        }
        for (int i = 0; i < kObjects; ++i) {
          if (!check(v[i], 64, static_cast<unsigned>(t * 7 + i))) bad++;
          dealloc(v[i]);
        }
      }
      for (done++; done < kThreads;) std::this_thread::yield();
    });
  for (auto& th : ts) th.join();
  CHECK(bad == 0);
  CHECK(foreign * 20 < total);  // a borrow may race with another's pop: rarely
}

TEST_CASE("allocator: producer/consumer of medium chunks, batches passed back whole") {
  // The consumer frees only chunks of the producer's heap: its overflowing bins go
  // to the medium transfer caches, from which the producer refills. Every block is
  // checked at free and the live set is checked for overlap at the end.
  constexpr int kBlocks = 60000 / kScale, kQueue = 1024;
  static std::atomic<void*> queue[kQueue];
  std::atomic<int> bad{0};
  std::thread consumer([&] {
    for (int i = 0; i < kBlocks; ++i) {
      void* p;
      while (!(p = queue[i % kQueue].exchange(nullptr))) std::this_thread::yield();
      size_t n = reinterpret_cast<size_t*>(p)[0];
      if (!check(static_cast<char*>(p) + 8, n - 8, static_cast<unsigned>(n))) bad++;
      dealloc(p);
    }
  });
  std::mt19937 rng(7);
  for (int i = 0; i < kBlocks; ++i) {
    size_t n = 257 + rng() % 768;  // the cached medium sizes
    void* p = alloc(n);
    reinterpret_cast<size_t*>(p)[0] = n;
    fill(static_cast<char*>(p) + 8, n - 8, static_cast<unsigned>(n));
    void* expected = nullptr;
    while (!queue[i % kQueue].compare_exchange_weak(expected, p)) {
      expected = nullptr;
      std::this_thread::yield();
    }
  }
  consumer.join();
  CHECK(bad == 0);
  // A block handed out from a passed batch is no longer marked as cached: freeing
  // it untouched (its second word is where the mark lives) is not a double free.
  for (int i = 0; i < 2000; ++i) dealloc(alloc(257 + rng() % 768));
  // Blocks handed out again after the round trip do not overlap.
  std::vector<std::pair<char*, size_t>> live;
  for (int i = 0; i < 2000; ++i) {
    size_t n = 257 + rng() % 768;
    auto* p = static_cast<char*>(alloc(n));
    fill(p, n, static_cast<unsigned>(i));
    live.emplace_back(p, n);
  }
  for (size_t i = 0; i < live.size(); ++i) {
    CHECK(check(live[i].first, live[i].second, static_cast<unsigned>(i)));
    dealloc(live[i].first);
  }
}

namespace {
pthread_key_t g_late_key;
std::atomic<int> g_late_ok{0};
void late_destructor(void*) {
  // Runs after the allocator's own key destructor (keys run in creation order):
  // the thread cache is gone, allocation must still work.
  void* p = alloc(100);
  void* q = alloc(3000);
  memset(p, 1, 100);
  memset(q, 2, 3000);
  dealloc(p);
  dealloc(q);
  g_late_ok++;
}
}  // namespace

TEST_CASE("allocator: thread churn, free-only threads, allocation after the cache is flushed") {
  void* warm = alloc(8);  // sets up the allocator's key before ours
  dealloc(warm);
  REQUIRE(pthread_key_create(&g_late_key, late_destructor) == 0);
  std::vector<void*> made;
  for (int i = 0; i < 64; ++i) made.push_back(alloc(48 + i * 20));
  std::thread freer([&] {
    for (void* p : made) dealloc(p);  // this thread never allocates
  });
  freer.join();
  for (int round = 0; round < 50 / kScale; ++round) {
    std::vector<std::thread> ts;
    for (int t = 0; t < 20; ++t)
      ts.emplace_back([] {
        pthread_setspecific(g_late_key, reinterpret_cast<void*>(1));
        std::vector<void*> v;
        for (int i = 0; i < 100; ++i) v.push_back(alloc(static_cast<size_t>(i) * 37 % 2000 + 1));
        for (void* p : v) dealloc(p);
      });
    for (auto& th : ts) th.join();
  }
  CHECK(g_late_ok == 50 / kScale * 20);
}

TEST_CASE("thread cache: a thread's first call may be of any size or a free of any tier") {
  // A thread's bins hold zero links until its set-up, which are not empty lists
  // (Bin): every first call must set the thread up before it uses a bin.
  const size_t sizes[] = {1, 16, 256, 257, 1024, 1025, 2000, 16384, 65536, 65537, 300000};
  std::vector<void*> made;
  for (size_t n : sizes) {
    made.push_back(alloc(n));
    fill(made.back(), n, static_cast<unsigned>(n));
  }
  for (size_t i = 0; i < std::size(sizes); ++i) {
    bool ok = false;
    std::thread([&] {
      void* p = alloc(sizes[i]);  // the first call of this thread
      fill(p, sizes[i], 7);
      void* q = alloc(sizes[i]);
      ok = p != nullptr && q != nullptr && p != q && check(p, sizes[i], 7);
      dealloc(q);
      dealloc(p);
    }).join();
    CHECK(ok);
    std::thread([&] { dealloc(made[i]); }).join();  // a free first
  }
  // The next calls of this thread still see whole lists.
  std::vector<void*> again;
  for (size_t n : sizes) again.push_back(alloc(n));
  for (size_t i = 0; i < std::size(sizes); ++i) {
    fill(again[i], sizes[i], 3);
    CHECK(check(again[i], sizes[i], 3));
    dealloc(again[i]);
  }
}

TEST_CASE("links: a raw address, zero or a list's end decodes misaligned") {
  std::mt19937_64 rng(42);
  for (int i = 0; i < 10000; ++i) {
    uintptr_t a = rng() & ~uintptr_t{15};
    CHECK(decode_link(encode_link(reinterpret_cast<void*>(a))) == reinterpret_cast<void*>(a));
    CHECK((reinterpret_cast<uintptr_t>(decode_link(a)) & 15) != 0);
  }
  CHECK((reinterpret_cast<uintptr_t>(decode_link(0)) & 15) != 0);
  CHECK(decode_link(encode_link(nullptr)) == nullptr);
  CHECK(Bin::none().head() == nullptr);
  // The end of a list is misaligned as malloc's fast path decodes it (+ secret),
  // so that one test sends an empty bin to the slow path; both forms end a list.
  CHECK(((encode_link(nullptr) + g_secret) & 15) != 0);
  CHECK(ends_list(nullptr));
  CHECK(ends_list(reinterpret_cast<void*>(encode_link(nullptr) + g_secret)));
  CHECK(!ends_list(reinterpret_cast<void*>(uintptr_t{16})));
  CHECK(encode_object(reinterpret_cast<void*>(uintptr_t{4096})) ==
        encode_link(reinterpret_cast<void*>(uintptr_t{4096})));
}

TEST_CASE("allocator: a large block that moves to grow keeps its contents (pages moved)") {
  for (size_t old : {size_t{1} << 20, (size_t{3} << 20) + 12345, size_t{9} << 20}) {
    auto* p = static_cast<unsigned char*>(alloc(old));
    REQUIRE(p);
    void* blocker = alloc(old);  // right behind p: it cannot grow in place
    for (size_t i = 0; i < old; i += 61) p[i] = static_cast<unsigned char>(i * 7);
    p[old - 1] = 0xa5;
    auto* q = static_cast<unsigned char*>(realloc_block(p, 2 * old));
    REQUIRE(q);
    for (size_t i = 0; i < old; i += 61) REQUIRE(q[i] == static_cast<unsigned char>(i * 7));
    CHECK(q[old - 1] == 0xa5);
    memset(q + old, 1, old);                            // the new part is ours to write
    auto* r = static_cast<unsigned char*>(alloc(old));  // p's old pages are usable again
    REQUIRE(r);
    memset(r, 2, old);
    for (size_t i = 0; i < old; i += 61) REQUIRE(q[i] == static_cast<unsigned char>(i * 7));
    dealloc(r);
    dealloc(q);
    dealloc(blocker);
  }
}

TEST_CASE("start check: exactly the addresses whose low 32 bits are multiples of the class size") {
  std::mt19937_64 rng(12);
  for (uint32_t cls = 1; cls <= kNumSmallClasses; ++cls) {
    uint32_t size = static_cast<uint32_t>(bin_size(cls));
    StartCheck c = start_check_for(size);
    for (int i = 0; i < 20000; ++i) {
      uintptr_t a = rng();
      if (i % 3 == 0) a -= static_cast<uint32_t>(a) % size;  // a multiple, often
      if (i % 3 == 1)
        a = (a & ~uintptr_t{0xffffffff}) | (0xffffffffu - rng() % 4096);  // top of a 4 GiB
      bool multiple = static_cast<uint32_t>(a) % size == 0;
      REQUIRE(passes_start_check(reinterpret_cast<void*>(a), c) == multiple);
    }
    CHECK(passes_start_check(reinterpret_cast<void*>(uintptr_t{0x7f0100000000}), c));
  }
  StartCheck none{0, 0};  // bins that stay full: any address passes, their room refuses
  CHECK(passes_start_check(reinterpret_cast<void*>(uintptr_t{0x1238}), none));
}

TEST_CASE("allocator: medium chunks up to 64 KiB are cached by class, also across threads") {
  thread_cache_flush(&t_cache);  // empty bins: the next chunk of the class is p
  void* p = alloc(20000);
  REQUIRE(p != nullptr);
  CHECK(usable_size(p) >= 20480);  // its class
  CHECK(usable_size(p) < 20480 + 64);
  fill(p, 20000, 7);
  dealloc(p);
  void* q = alloc(19500);  // the same class: the chunk just freed
  CHECK(q == p);
  dealloc(q);
  // Chunks of every class, freed by another thread, with their contents.
  std::vector<void*> blocks;
  for (uint32_t b = kFirstBigBin; b < kNumBins; ++b) {
    size_t n = bin_size(b) - 8;
    void* x = alloc(n);
    REQUIRE(x != nullptr);
    CHECK(usable_size(x) >= n);
    fill(x, n, b);
    blocks.push_back(x);
  }
  std::thread t([&] {
    for (uint32_t i = 0; i < blocks.size(); ++i) {
      size_t n = bin_size(kFirstBigBin + i) - 8;
      CHECK(check(blocks[i], n, kFirstBigBin + i));
      void* y = alloc(n);  // served from this thread's bins or its heap
      fill(y, n, 3);
      dealloc(blocks[i]);
      dealloc(y);
    }
  });
  t.join();
  for (uint32_t b = kFirstBigBin; b < kNumBins; ++b) {
    size_t n = bin_size(b);
    void* x = alloc(n);
    fill(x, n, 5);
    CHECK(check(x, n, 5));
    dealloc(x);
  }
}

TEST_CASE("cache budget: a thread keeps at most its budget of chunks over 1 KiB") {
  thread_cache_flush(&t_cache);
  // 40 chunks of every class from 1 KiB to 64 KiB (30 MiB), contents checked,
  // all freed: the bins keep what their caps (256 KiB or 16 chunks each) and
  // their budget (kBigBudgetScale x MYMALLOC_TCACHE_BYTES, 8 MiB) allow; the rest
  // goes back to the heap.
  std::vector<void*> v;
  for (int round = 0; round < 40; ++round)
    for (uint32_t b = kFirstBigBin; b < kNumBins; ++b) {
      void* p = alloc(bin_size(b));
      REQUIRE(p != nullptr);
      fill(p, bin_size(b), b);
      v.push_back(p);
    }
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t b = kFirstBigBin + static_cast<uint32_t>(i % kNumBigClasses);
    CHECK(check(v[i], bin_size(b), b));
    dealloc(v[i]);
  }
  stash_drain(&t_cache);
  size_t cached = 0;
  for (uint32_t b = kFirstBigBin; b < kNumBins; ++b) {
    cached += size_t{t_cache.bins[b].count()} * bin_size(b);
    CHECK(t_cache.bins[b].count() <= t_cache.bins[b].max);
  }
  const size_t budget = kBigBudgetScale * g_config.tcache_bytes;
  CHECK(t_cache.max_bytes[1] <= budget);
  CHECK(cached <= budget);
  CHECK(cached > budget * 3 / 4);  // past the old caps (two chunks of 16 KiB up: 2.1 MiB)
  thread_cache_flush(&t_cache);
}

TEST_CASE("cache budget: a bin of chunks over 1 KiB holds kBigBinMinChunks of them") {
  // Its count walks at random as the program's blocks come and go; a bin capped at
  // kBigBinBytes (four chunks of 64 KiB) met its bound every few frees, each a trip
  // through the coalescing heap. What earlier tests and their threads left
  // (caches, parked caches, transfer stacks) goes down first, as in the tests
  // that count what slabs hold: under make check's load this bin once held one
  // chunk fewer after them.
  relieve_pressure();
  const size_t n = kBigCachedMax;
  const uint32_t bin = big_cached_bin(n);
  REQUIRE(kBigBinBytes / bin_size(bin) < kBigBinMinChunks);
  std::vector<void*> v;
  for (uint32_t i = 0; i < kBigBinMinChunks; ++i) {
    void* p = alloc(n);
    REQUIRE(p != nullptr);
    fill(p, n, i);
    v.push_back(p);
  }
  for (uint32_t i = 0; i < v.size(); ++i) {
    CHECK(check(v[i], n, i));
    dealloc(v[i]);
  }
  stash_drain(&t_cache);
  CHECK(t_cache.bins[bin].count() == kBigBinMinChunks);
  for (uint32_t i = 0; i < kBigBinMinChunks; ++i) v[i] = alloc(n);  // all from the bin
  CHECK(t_cache.bins[bin].count() == 0);
  for (void* p : v) dealloc(p);
  thread_cache_flush(&t_cache);
}

TEST_CASE("cache budget: a lowered limit gives back whole batches") {
  thread_cache_flush(&t_cache);
  const uint32_t bin = 3;  // 48-byte objects
  const uint32_t batch = class_info(bin).batch;
  std::vector<void*> v;
  for (uint32_t i = 0; i < 4 * batch; ++i) v.push_back(alloc(48));
  for (void* p : v) dealloc(p);
  Bin& b = t_cache.bins[bin];
  uint32_t count = b.count();
  REQUIRE(count >= batch + 1);
  REQUIRE(b.max >= count);
  // One object over the new limit: a whole batch goes down, which a transfer
  // cache takes, not a chain of one.
  lower_limit(&t_cache, bin, b.max - count + 1);
  CHECK(b.count() == count - batch);
  CHECK(b.count() <= b.max);
  thread_cache_flush(&t_cache);
}

TEST_CASE("cache budget: an overflow takes other bins' limit only up to two batches") {
  thread_cache_flush(&t_cache);
  ThreadCache* tc = &t_cache;
  const uint32_t victim = 4, bin = 3;  // 64- and 48-byte objects
  Bin& v = tc->bins[victim];
  Bin& b = tc->bins[bin];
  // The victim takes the whole budget (refills: nothing to steal from yet).
  for (int i = 0; i < 100000; ++i) {
    uint32_t before = v.max;
    grow_max(tc, v, victim, false);
    if (v.max == before) break;
  }
  REQUIRE(tc->max_bytes[0] + size_t{class_info(victim).batch} * bin_size(victim) >
          g_config.tcache_bytes);
  // A bin that only overflows (a consumer's) grows to two batches, taking limit
  // from the victim, and then takes no more.
  const uint32_t batch = class_info(bin).batch;
  for (int i = 0; i < 1000 && b.max < 2 * batch; ++i) grow_max(tc, b, bin, true);
  CHECK(b.max >= 2 * batch);
  const uint32_t victim_max = v.max;
  for (int i = 0; i < 1000; ++i) grow_max(tc, b, bin, true);
  CHECK(v.max == victim_max);
  // Refills still take it.
  const uint32_t grown = b.max;
  for (int i = 0; i < 1000; ++i) grow_max(tc, b, bin, false);
  CHECK(b.max > grown);
  CHECK(v.max < victim_max);
  CHECK(tc->max_bytes[0] <= g_config.tcache_bytes);
  thread_cache_flush(&t_cache);
}

TEST_CASE("thread cache: a full bin of another thread's medium chunks goes down whole") {
  const size_t size = 300;
  const uint32_t bin = size_bin(size);
  REQUIRE(!is_small_class(bin));
  const uint32_t batch = class_info(bin).batch;
  const uint32_t n = 8 * batch;
  std::vector<void*> v(n);
  std::thread([&] {  // the producer: chunks of its own heap
    for (uint32_t i = 0; i < n; ++i) {
      v[i] = alloc(size);
      fill(v[i], size, i);
    }
  })
      .join();
  thread_cache_flush(&t_cache);
  Bin& b = t_cache.bins[bin];
  uint32_t whole = 0;
  for (uint32_t i = 0; i < n; ++i) {
    REQUIRE(check(v[i], size, i));
    const uint32_t before = b.count();
    const size_t held = medium_transfer_bytes();
    dealloc(v[i]);
    stash_drain_pending(&t_cache);
    if (before >= 2 * batch && b.count() < before) {
      // An overflow of a bin of whole batches: everything down as one chain, no
      // batch cut off by a walk, and p alone in the bin.
      CHECK(b.count() == 1);
      CHECK(medium_transfer_bytes() == held + size_t{before} * bin_size(bin));
      ++whole;
    }
  }
  CHECK(whole > 0);
  thread_cache_flush(&t_cache);
}

TEST_CASE(
    "thread cache: an overflowing slab bin keeps its newest batch, the rest goes as one chain") {
  relieve_pressure();
  const uint32_t bin = 3;  // 48-byte objects
  const uint32_t batch = class_info(bin).batch;
  Bin& b = t_cache.bins[bin];
  std::vector<void*> v;
  for (int round = 0; round < 4; ++round) {  // slow start: the limit grows
    for (uint32_t i = 0; i < 8 * batch; ++i) v.push_back(alloc(48));
    for (void* p : v) dealloc(p);
    v.clear();
  }
  REQUIRE(b.max >= 2 * batch);
  // More than the bin may ever hold (the thread's byte budget), and then some.
  const uint32_t n = static_cast<uint32_t>(2 * g_config.tcache_bytes / 48 + 4 * batch);
  for (uint32_t i = 0; i < n; ++i) {
    v.push_back(alloc(48));
    fill(v[i], 48, i);
  }
  for (uint32_t i = 0; i < n; ++i) {
    CHECK(check(v[i], 48, i));
    dealloc(v[i]);
  }
  // The bin holds the newest objects freed, newest first: each overflow kept the
  // newest batch and sent the older objects down.
  const uint32_t count = b.count();
  CHECK(count >= batch);
  REQUIRE(count <= b.max);
  REQUIRE(b.max < n);
  void* p = b.head();
  uint32_t in_order = 0;
  for (uint32_t k = 0; k < count && p == v[n - 1 - k]; ++k, p = next_of(p)) ++in_order;
  CHECK(in_order == count);
  // Emptied, the bin refills with a whole chain, more than a batch, in one fetch.
  std::vector<void*> w;
  for (uint32_t k = 0; k < count; ++k) w.push_back(alloc(48));
  CHECK(b.count() == 0);
  w.push_back(alloc(48));
  CHECK(b.count() + 1 > batch);
  // Everything handed out again is distinct and holds what is written to it.
  while (w.size() < n) w.push_back(alloc(48));
  std::vector<void*> sorted(w);
  std::sort(sorted.begin(), sorted.end());
  CHECK(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end());
  for (uint32_t i = 0; i < n; ++i) fill(w[i], 48, i + 3);
  for (uint32_t i = 0; i < n; ++i) {
    CHECK(check(w[i], 48, i + 3));
    dealloc(w[i]);
  }
  thread_cache_flush(&t_cache);
}

TEST_CASE("thread cache: a request over 1 KiB whose bin is empty takes the next class's chunk") {
  thread_cache_flush(&t_cache);
  const uint32_t bin = kFirstBigBin + 20;  // a class of some KiB
  REQUIRE(bin + 1 < kNumBins);
  void* big = alloc(bin_size(bin + 1));
  REQUIRE(big != nullptr);
  fill(big, bin_size(bin + 1), 9);
  CHECK(check(big, bin_size(bin + 1), 9));
  dealloc(big);
  stash_drain(&t_cache);  // the free waits in the stash until then
  REQUIRE(t_cache.bins[bin + 1].count() == 1);
  REQUIRE(t_cache.bins[bin].count() == 0);
  // A request of the class below: its own bin is empty, the chunk one class up
  // (at most a class step, an eighth, bigger) is taken instead of the heap's.
  void* p = alloc(bin_size(bin) - 100);
  CHECK(p == big);
  CHECK(t_cache.bins[bin + 1].count() == 0);
  CHECK(usable_size(p) >= bin_size(bin));
  fill(p, bin_size(bin) - 100, 4);
  CHECK(check(p, bin_size(bin) - 100, 4));
  dealloc(p);
  thread_cache_flush(&t_cache);
}

TEST_CASE("stash drain: exactly the valid in-use headers of cached sizes find a bin") {
  alignas(16) static uint64_t buf[4];
  void* p = &buf[2];  // a chunk whose header is buf[0..1]
  Bin* bins = t_cache.bins;
  auto bin_for = [&](uint64_t head) {
    buf[1] = head;
    return medium_cache_bin(bins, p);
  };
  for (uint64_t size = 16; size <= kBigCachedMax + 4096; size += 16) {
    uint64_t valid = size | used_magic(size) | kChunkInUse;
    uint64_t payload = size - kChunkHeader;
    Bin* want = nullptr;
    if (payload > kSmallMax && payload <= kCachedMax)
      want = &bins[payload / 16];
    else if (payload > kCachedMax && payload <= kBigCachedMax)
      want = &bins[big_cached_bin_floor(payload)];
    CHECK(bin_for(valid) == want);
    // Anything else goes to the checked slow path: free or sentinel chunks,
    // flags that only free chunks carry, a size changed with its magic kept
    // (an overflow), a magic of another size, no magic at all.
    CHECK(bin_for(size | kMagicFree) == nullptr);
    CHECK(bin_for(valid | kChunkSentinel) == nullptr);
    CHECK(bin_for(valid | kChunkPurged) == nullptr);
    CHECK(bin_for(valid | kChunkSeen) == nullptr);
    CHECK(bin_for(valid & ~kChunkInUse) == nullptr);
    for (uint64_t bit = 16; bit <= (uint64_t{1} << 20); bit <<= 1)
      CHECK(bin_for(valid ^ bit) == nullptr);
    CHECK(bin_for(size | kChunkInUse) == nullptr);
  }
}

TEST_CASE("stash drain: a medium free that finds the stash full drains it, itself included") {
  // Chunks over 1 KiB: those up to it may lie on grid pages, which skip the stash.
  thread_cache_flush(&t_cache);
  auto size = [](uint32_t i) { return size_t{1100} + 128 * (i % 4); };
  std::vector<void*> v;
  for (uint32_t i = 0; i < 3 * kStashMax + 5; ++i) {
    v.push_back(alloc(size(i)));
    REQUIRE(v.back() != nullptr);
    fill(v.back(), 300, i);
  }
  uint32_t before[4];
  for (uint32_t k = 0; k < 4; ++k) before[k] = t_cache.bins[cached_bin(size(k))].count();
  for (uint32_t i = 0; i < v.size(); ++i) {
    CHECK(check(v[i], 300, i));
    dealloc(v[i]);
    // The stash holds at most kStashMax; a free that finds it full drains it.
    CHECK(t_cache.bins[kClsMedium].count() == (i + 1) % (kStashMax + 1));
  }
  stash_drain(&t_cache);
  uint32_t cached = 0;
  for (uint32_t k = 0; k < 4; ++k) cached += t_cache.bins[cached_bin(size(k))].count() - before[k];
  CHECK(cached == v.size());
  // Each comes back from its bin, contents intact until then.
  std::vector<void*> w;
  for (uint32_t i = 0; i < v.size(); ++i) w.push_back(alloc(size(i)));
  std::sort(v.begin(), v.end());
  std::sort(w.begin(), w.end());
  CHECK(v == w);
  for (void* q : w) dealloc(q);
  thread_cache_flush(&t_cache);
}

TEST_CASE("realloc: a medium chunk moved away from goes back to its heap, not to the cache") {
  thread_cache_flush(&t_cache);
  const uint32_t bin = cached_bin(20000);
  void* p = alloc(20000);
  void* neighbour = alloc(20000);  // in use: p cannot grow in place into it
  REQUIRE(p != nullptr);
  REQUIRE(neighbour != nullptr);
  fill(p, 20000, 11);
  // Grown past its chunk and past the free space behind it (if the neighbour was
  // carved elsewhere, p may grow in place: then nothing moved).
  void* q = realloc_block(p, 100000);
  REQUIRE(q != nullptr);
  CHECK(check(q, 20000, 11));
  stash_drain(&t_cache);
  if (q != p) {
    CHECK(t_cache.bins[bin].count() == 0);  // before: the chunk waited in its bin
    // The heap has it: a chunk of its size comes from there, p's place first
    // among the fits of that size, or elsewhere; either way it is a live chunk.
    void* r = alloc(20000);
    REQUIRE(r != nullptr);
    fill(r, 20000, 12);
    CHECK(check(q, 20000, 11));
    dealloc(r);
  }
  dealloc(q);
  dealloc(neighbour);
  thread_cache_flush(&t_cache);
}

TEST_CASE("grid pages: a chunk of up to 1 KiB on one is freed straight into its bin") {
  thread_cache_flush(&t_cache);
  std::vector<void*> v;
  for (int i = 0; i < 64; ++i) v.push_back(alloc(400));
  const uint32_t bin = size_bin(400);
  int on_grid = 0;
  for (void* p : v) {
    fill(p, 400, 9);
    uint32_t stashed = t_cache.bins[kClsMedium].count(), cached = t_cache.bins[bin].count();
    bool grid = g_pagemap.grid_bin(page_of(p)) == bin;
    on_grid += grid;
    dealloc(p);
    if (grid) {
      CHECK(t_cache.bins[kClsMedium].count() == stashed);  // not through the stash
      CHECK((t_cache.bins[bin].count() == cached + 1 || t_cache.bins[bin].count() < cached));
      CHECK(is_cached_chunk(p));
    }
  }
  // A fresh thread's heap carves its first runs on grid pages (without a flat map
  // there are none).
  if (g_class_map_mask) CHECK(on_grid > 0);
  std::vector<void*> w;
  for (int i = 0; i < 64; ++i) w.push_back(alloc(400));
  for (void* q : w) dealloc(q);
  thread_cache_flush(&t_cache);
}
