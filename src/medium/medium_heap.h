// A medium heap: regions (spans from the page heap) carved into boundary-tag chunks
// with exact 16-byte sizes, segregated free bins with a good fit, immediate
// coalescing on free, in-place realloc, and a lock-free remote-free stack for chunks
// freed by threads that do not own the heap. Free memory goes back to the page
// heap in whole pages: a region that becomes wholly free (all but the newest, which
// stays as the heap's top until trim), and the whole pages of any free chunk of at
// least kRegionReturnMin, around which its region is split. Regions grow in place
// up to kRegionMax, so a live chunk keeps at most that much from the other tiers.
#pragma once
#include "../common/common.h"
#include "../common/lock.h"
#include "../common/tuning.h"
#include "../page/page_heap.h"
#include "chunk.h"

namespace mm {

struct MediumHeapStats {
  size_t region_bytes;  // bytes of regions held
  size_t used_bytes;    // bytes of in-use chunks, headers included
  size_t regions;
  size_t spare_bytes;  // of those, the spares' (alloc_grid): free to the program
};

class MediumHeap {
 public:
  // Free-chunk bins: exact below 1 KiB, four per power of two above.
  static constexpr size_t kNumFreeBins = 192;

  void init(PageHeap* ph);
  // The locality group its regions come from (page_heap.h): that of the thread
  // that took it last. Set by the registry, read under the heap's lock.
  void set_group(uint8_t g) { __atomic_store_n(&group_, g, __ATOMIC_RELAXED); }

  // True when a resize of in-use chunk c to new_csize changes nothing: it fits, and
  // does not shrink it by half or more (tcmalloc's rule: the slack that realloc
  // growth leaves is kept for the next append, and a buffer trimmed a little after
  // it grew does not give the tail back only to take it again). A quarter, as
  // before: realloc_mix 100.2M -> 97.5M instructions, 22.5k -> 19.6k locked
  // resizes. No lock: only the chunk's owner changes its size.
  // new_csize <= cur and cur - new_csize <= new_csize in one unsigned compare (it
  // wraps when new_csize is bigger); what a shrink splits off is then more than
  // new_csize, at least kMinChunk.
  static bool resize_is_noop(const Chunk* c, size_t new_csize) {
    MM_ASSERT(new_csize >= kMinChunk);
    return c->size() - new_csize <= new_csize;
  }

  // Whether growing in-use chunk c to new_csize in place can succeed, read without
  // the lock: its right neighbour's header (which c's size vouches for: a chunk
  // or the region's end sentinel, always mapped) says free and big enough. A
  // neighbour that changes meanwhile only makes the answer stale: true is checked
  // again under the lock, false moves the block. Only c's owner changes its size.
  static bool may_grow_in_place(Chunk* c, size_t new_csize) {
    uint64_t h = c->next()->head();
    return !(h & (kChunkInUse | kChunkSentinel)) &&
           c->size() + (h & ~(kMagicMask | kChunkFlagMask)) >= new_csize;
  }

  // All of these need lock() held.
  void* alloc(size_t csize);  // nullptr when the page heap cannot grow
  // Up to n chunks of csize (payloads into out) for a thread cache's refill, carved
  // one after another from each fit found (medium_run.cc). Fewer only when the
  // page heap cannot grow.
  int alloc_run(size_t csize, int n, void** out);
  // A thread cache's refill of a bin up to kCachedMax on grid pages (medium_run.cc):
  // up to n chunks of csize from the bin's spares, then from holes (as alloc_run),
  // then from a run carved at multiples of csize over a whole page, which the flat
  // class map then names as the bin's (free() caches such chunks as it caches slab
  // objects); what the run has over n waits as spares. Without a flat map only
  // the spares (none); fewer when the page heap cannot grow.
  int alloc_grid(size_t csize, int n, void** out);
  // Frees the spares into the heap (trim, and tests).
  void release_spares();
  void free_chunk(Chunk* c);
  bool resize_in_place(Chunk* c, size_t new_csize);
  void drain_remote();
  // Purges the whole pages inside free chunks: of every chunk with some (trim), of
  // the big ones (a burst of frees past the purge threshold), or, once per half of
  // the page heap's decay time, of big ones free since the last pass.
  enum class Purge { kAll, kBig, kDecayed };
  void purge_free_chunks(Purge which);
  // Returns wholly free regions, the newest included (memory pressure, trim, a
  // heap whose threads have all exited).
  // purge: also the whole pages inside free chunks (malloc_trim, pressure, and a
  // heap orphaned with more than kOrphanPurgeMin free).
  void trim(bool purge = true);
  size_t free_bytes() const { return region_bytes_ - used_bytes_; }
  MediumHeapStats stats() const {
    return MediumHeapStats{region_bytes_, used_bytes_, regions_, spare_bytes()};
  }
  size_t spare_bytes() const;

  // Any thread, no lock: parks a chunk for the owner to free at its next lock.
  // Returns true when the caller should try to drain (the stack grew long).
  bool remote_push(Chunk* c);
  bool has_remote() const { return __atomic_load_n(&remote_, __ATOMIC_RELAXED) != nullptr; }

  Lock& lock() { return lock_; }

  // Registry bookkeeping (heap_registry.cc).
  MediumHeap* reg_next = nullptr;
  uint32_t owners = 0;  // threads using this heap; 0 = orphan, freed into directly

 private:
  static size_t free_bin_of(size_t csize);
  // size: f's, where the caller has just written it (split_tail): reading it back
  // from f's cold line stalled.
  void bin_insert(FreeChunk* f, size_t size);
  void bin_insert(FreeChunk* f) { bin_insert(f, f->hdr.size()); }
  void bin_remove(FreeChunk* f);
  FreeChunk* find_fit(size_t csize);
  // Up to n chunks of csize from f, one after another; the rest goes back to a bin.
  int carve_run(FreeChunk* f, size_t csize, int n, void** out);
  // n chunks of csize from f as a grid run (alloc_grid) over at least one page
  // (more, as spares, where n does not cover it); 0 when f cannot hold it.
  int carve_grid(FreeChunk* f, size_t csize, int n, void** out);
  // Makes the bytes of c from keep to total (c's old size) a free chunk, unbinned;
  // c's own header is the caller's.
  static FreeChunk* split_tail(Chunk* c, size_t keep, size_t total);
  bool grow(size_t csize);
  bool extend_region(Span* r, size_t csize, bool may_grow);
  static size_t region_pages(size_t csize);
  bool new_region(size_t csize, size_t pages);  // pages: at least csize + a sentinel
  // Aborts naming func unless c's boundary tags agree with its neighbours'.
  void check_tags(Chunk* c, const char* func);
  Chunk* coalesce(Chunk* c);
  // free_chunk past its checks: c goes into its bin's spares when it lies on a
  // grid page and they have room (true), else the pages it overlaps stop being
  // grid pages, before it is merged.
  bool to_spare(Chunk* c);
  void free_checked(Chunk* c);
  void ungrid(Chunk* c, size_t size) {
    uintptr_t first = page_of(c), last = page_of(reinterpret_cast<char*>(c) + size - 1);
    ph_->pagemap()->clear_grid(first, last - first + 1);
  }
  // c is free, merged and unbinned: bins it, or first gives its whole pages to the
  // page heap when there are enough of them.
  void bin_or_return_pages(Chunk* c);
  void return_region(Span* r);
  void return_if_free(Span* r);  // r's one chunk is free and binned: back it goes

  Lock lock_{LockRank::kMediumHeap};
  PageHeap* ph_ = nullptr;
  uint8_t group_ = 0;
  FreeChunk* bins_[kNumFreeBins] = {};
  uint64_t bitmap_[kNumFreeBins / 64] = {};
  Span regions_head_;
  Span* top_region_ = nullptr;  // newest region: grown in place, never returned idle
  void* remote_ = nullptr;      // chunks freed by other threads, linked via payload
  uint32_t remote_count_ = 0;
  // Chunks carved on grid pages and not in a thread cache, per bin from 17: at
  // most a page's worth each (to_spare), in use and marked as cached.
  static constexpr uint32_t kGridBins = kCachedMax / 16 - kNumSmallClasses;
  // What carve_grid leaves at most: a page and a quarter of 288-byte chunks.
  static constexpr int kSpareMax = 40;
  void* spare_[kGridBins][kSpareMax];
  uint8_t spares_[kGridBins] = {};
  uint32_t frees_ = 0;            // free_chunk calls: the clock is read every 256
  size_t freed_since_alloc_ = 0;  // bytes: a heap that only frees purges at once
  uint32_t last_decay_ms_ = 0;    // the last decay pass
  size_t region_bytes_ = 0;
  size_t used_bytes_ = 0;
  size_t regions_ = 0;
};

}  // namespace mm
