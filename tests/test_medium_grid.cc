// Grid pages (medium_run.cc): runs of one bin's chunks at multiples of their size
// over whole pages, named in the flat class map, spares, and the pages turned back
// whenever one of their chunks is freed to the heap or resized.
#include <doctest/doctest.h>
#include <string.h>

#include <vector>

#include "fake_os.h"
#include "live_blocks.h"
#include "medium/medium_heap.h"

using namespace mm;

namespace {
struct GridFixture : PageHeapFixture {
  MediumHeap h;
  GridFixture() {
    pm.init_class_map();  // before any page is registered
    h.init(&ph);
    h.owners = 1;  // a thread's heap (an orphan keeps no spares)
  }
  int grid(size_t csize, int n, void** out) {
    LockGuard g(h.lock());
    return h.alloc_grid(csize, n, out);
  }
  void* alloc(size_t csize) {
    LockGuard g(h.lock());
    return h.alloc(csize);
  }
  void free(void* p) {
    LockGuard g(h.lock());
    h.free_chunk(Chunk::of(p));
  }
  uint32_t grid_bin(const void* p) { return pm.grid_bin(page_of(p)); }
  // A thread cache's refill as medium_alloc_batch makes it: grid first, a run
  // for the rest.
  int refill(size_t csize, int n, void** out) {
    LockGuard g(h.lock());
    int k = h.alloc_grid(csize, n, out);
    return k + (k < n ? h.alloc_run(csize, n - k, out + k) : 0);
  }
  // Every grid page in the arena: each grid position on it (a multiple of its
  // bin's chunk size) is the payload of an in-use chunk of that size, walking the
  // region's chunks; so no chunk has one inside it.
  int check_grid_pages() {
    int pages = 0;
    for (uintptr_t pg = os.first_page(); pg < os.first_page() + os.used / kPageSize; ++pg) {
      uint32_t bin = pm.grid_bin(pg);
      if (!bin) continue;
      const size_t cs = bin_size(bin) + kChunkHeader;
      ++pages;
      Span* r = pm.span(pg);
      REQUIRE(r != nullptr);
      REQUIRE(r->state == SpanState::kMedium);
      const uintptr_t lo = pg * kPageSize, hi = lo + kPageSize;
      std::vector<Chunk*> starts;
      for (auto* c = reinterpret_cast<Chunk*>(r->base()); !c->sentinel(); c = c->next()) {
        auto q = reinterpret_cast<uintptr_t>(c->payload());
        if (q >= lo && q < hi && static_cast<uint32_t>(q) % cs == 0) starts.push_back(c);
      }
      uintptr_t first = lo + (cs - static_cast<uint32_t>(lo) % cs) % cs;
      REQUIRE(starts.size() == (hi - first + cs - 1) / cs);  // every position a chunk's
      for (Chunk* c : starts) {
        REQUIRE(c->valid_used());
        REQUIRE(c->size() == cs);
      }
    }
    return pages;
  }
};
constexpr uint32_t kBin = 19;  // 304-byte payloads
constexpr size_t kCs = 304 + kChunkHeader;
}  // namespace

TEST_CASE("grid: a run covers a whole page at multiples of the chunk size, the rest spare") {
  GridFixture f;
  void* out[4];
  REQUIRE(f.grid(kCs, 4, out) == 4);
  for (int i = 0; i < 4; ++i) {
    CHECK(Chunk::of(out[i])->size() == kCs);
    CHECK(Chunk::of(out[i])->valid_used());
    CHECK(static_cast<uint32_t>(reinterpret_cast<uintptr_t>(out[i])) % kCs == 0);
    CHECK(static_cast<uintptr_t*>(out[i])[1] == 0);  // handed out: no token
    if (i) CHECK(static_cast<char*>(out[i]) == static_cast<char*>(out[i - 1]) + kCs);
  }
  CHECK(f.grid_bin(out[0]) == kBin);
  // A page's worth carved: what the refill did not take waits as spares, in use.
  size_t used = f.h.stats().used_bytes;
  CHECK(used >= kPageSize / kCs * kCs);
  CHECK(used % kCs == 0);
  f.check_grid_pages();
  // The next refill of the bin takes spares, carving nothing.
  void* more[8];
  REQUIRE(f.grid(kCs, 8, more) == 8);
  CHECK(f.h.stats().used_bytes == used);
  for (void* p : more) CHECK(f.grid_bin(p) == kBin);
  f.check_grid_pages();
  // Trim frees the spares: the grid pages turn back, nothing is left in use.
  for (void* p : out) f.free(p);
  for (void* p : more) f.free(p);
  {
    LockGuard g(f.h.lock());
    f.h.trim();
  }
  CHECK(f.h.stats().used_bytes == 0);
  CHECK(f.grid_bin(out[0]) == 0);
}

TEST_CASE("grid: frees wait as spares up to a page's worth; past that the page turns back") {
  GridFixture f;
  std::vector<void*> v;
  void* out[16];
  // Refills of 16: spares first, then a run (or a hole a run left).
  for (int r = 0; r < 3; ++r) {
    int k = f.refill(kCs, 16, out);
    REQUIRE(k == 16);
    v.insert(v.end(), out, out + 16);
  }
  f.check_grid_pages();
  size_t used = f.h.stats().used_bytes;
  // Freed chunks go back to the spares, still in use and marked as cached.
  size_t fit = kPageSize / kCs + 1;  // spares while below a page's bytes
  size_t i = 0;
  for (; i < v.size(); ++i) {
    uint32_t bin = f.grid_bin(v[i]);
    f.free(v[i]);
    if (f.h.stats().used_bytes != used) break;
    CHECK(bin == kBin);
    CHECK(static_cast<uintptr_t*>(v[i])[1] == g_token_secret);
  }
  REQUIRE(i < v.size());
  CHECK(i <= fit);
  // That free went to the heap: its page is a plain medium page now, and the
  // chunk is free (merged or binned).
  CHECK(f.grid_bin(v[i]) == 0);
  CHECK(f.h.stats().used_bytes == used - kCs);
  f.check_grid_pages();
  // An orphan's chunks go back at once, its pages turned back.
  f.h.owners = 0;
  for (++i; i < v.size(); ++i) {
    f.free(v[i]);
    CHECK(f.grid_bin(v[i]) == 0);
  }
  CHECK(f.h.stats().used_bytes == f.h.stats().spare_bytes);
  f.check_grid_pages();
  {
    LockGuard g(f.h.lock());
    f.h.trim();
  }
  CHECK(f.h.stats().used_bytes == 0);
}

TEST_CASE("grid: a resize in place turns the page back") {
  GridFixture f;
  void* out[2];
  REQUIRE(f.grid(kCs, 2, out) == 2);
  REQUIRE(f.grid_bin(out[0]) == kBin);
  {
    LockGuard g(f.h.lock());
    // Shrunk by more than half: the tail is split off.
    REQUIRE(f.h.resize_in_place(Chunk::of(out[0]), 128));
  }
  CHECK(f.grid_bin(out[0]) == 0);
  CHECK(Chunk::of(out[0])->size() == 128);
  f.check_grid_pages();
  f.free(out[0]);
  f.free(out[1]);
  LockGuard g(f.h.lock());
  f.h.trim();
  CHECK(f.h.stats().used_bytes == 0);
}

TEST_CASE("grid: holes that fit are used first, then a run from a fit that holds one") {
  GridFixture f;
  void* a = f.alloc(kCs);
  void* b = f.alloc(kCs);
  void* c = f.alloc(kCs);
  f.free(b);  // a hole of one chunk between two in use
  void* out[4];
  REQUIRE(f.grid(kCs, 4, out) == 4);
  CHECK(out[0] == b);  // the hole, on a plain page
  CHECK(f.grid_bin(b) == 0);
  for (int i = 1; i < 4; ++i) CHECK(f.grid_bin(out[i]) == kBin);  // then a run
  f.check_grid_pages();
  for (void* p : {a, c}) f.free(p);
  for (void* p : out) f.free(p);
  LockGuard g(f.h.lock());
  f.h.trim();
  CHECK(f.h.stats().used_bytes == 0);
}

TEST_CASE("grid: random runs, frees, resizes and trims keep every grid page whole") {
  GridFixture f;
  f.ph.set_purge_threshold(64);
  std::vector<LiveBlock> live;
  int grid_pages = 0;  // seen at the checks
  XorShift rnd{777};
  for (int op = 0; op < 20000; ++op) {
    uint64_t r = rnd();
    if (live.size() < 600 && r % 3 != 0) {
      uint32_t bin = kNumSmallClasses + 1 + static_cast<uint32_t>(rnd() % 48);
      size_t n = bin_size(bin);
      void* run[16];
      int k;
      if (rnd() % 4 != 0) {
        k = f.refill(n + kChunkHeader, static_cast<int>(1 + rnd() % 16), run);
      } else {
        n = 300 + rnd() % 3000;  // other chunks between them
        run[0] = f.alloc(chunk_size_for(n));
        k = 1;
      }
      for (int i = 0; i < k; ++i) {
        REQUIRE(run[i]);
        live.push_back({static_cast<unsigned char*>(run[i]), n});
        live.back().fill();
      }
    } else if (!live.empty()) {
      size_t i = rnd() % live.size();
      LiveBlock l = live[i];
      l.check();
      if (rnd() % 8 == 0) {
        size_t n = 300 + rnd() % 2000;
        LockGuard g(f.h.lock());
        if (f.h.resize_in_place(Chunk::of(l.p), chunk_size_for(n))) {
          live[i].n = n;
          live[i].fill();
          continue;
        }
      }
      f.free(l.p);
      live[i] = live.back();
      live.pop_back();
    }
    if (op % 500 == 0) grid_pages += f.check_grid_pages();
    if (op % 5000 == 4999) {
      LockGuard g(f.h.lock());
      f.h.trim();
    }
  }
  f.check_grid_pages();
  CHECK(grid_pages > 20);
  for (LiveBlock l : live) {
    l.check();
    f.free(l.p);
  }
  LockGuard g(f.h.lock());
  f.h.trim();
  CHECK(f.h.stats().used_bytes == 0);
}
