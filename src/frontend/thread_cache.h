// The thread cache: the front end. Per-thread bins of free objects for every small
// class and for medium chunks up to kCachedMax, in initial-exec TLS: the fast paths
// below take no lock and use no atomic instruction.
#pragma once
#include "../common/common.h"
#include "../medium/chunk.h"
#include "../page/pagemap.h"
#include "../small/size_class.h"

namespace mm {

class MediumHeap;

struct Bin {
  void* head;      // objects linked through their first word
  uint32_t count;  // objects in the list
  uint32_t max;    // slow-start limit; 0 until the thread is set up
};

enum : uint8_t { kCacheFresh = 0, kCacheActive = 1, kCacheDead = 2 };

struct ThreadCache {
  Bin bins[kNumBins];
  MediumHeap* heap;       // this thread's medium heap, attached on first use
  ThreadCache* reg_next;  // registry of live caches (stats, fork, pressure)
  ThreadCache* reg_prev;
  size_t max_bytes;       // sum of max * size over bins: the budget bound
  uint32_t flush_epoch;   // flush when the global epoch moves (memory pressure)
  uint32_t steal_cursor;  // next bin to take budget from
  uint8_t state;
};

extern MM_HIDDEN __thread ThreadCache t_cache __attribute__((tls_model("initial-exec")));

// Out-of-line halves (allocator.cc).
void* alloc_slow(size_t n);
void dealloc_slow(void* p, uint8_t cls);

// Medium chunks wait in the cache with kMagicCached in their header, so that a
// second free of one is caught; taking one out restores the in-use magic. (A
// chunk's payload may exceed its bin's size by less than a minimum chunk, so only
// the magic changes, never the size.)
constexpr uint64_t kMagicCached = uint64_t{0x6363} << kMagicShift;  // "cc"
MM_INLINE void chunk_mark_used(void* p) { Chunk::of(p)->set_magic(kMagicUsed); }
MM_INLINE void chunk_mark_cached(void* p) { Chunk::of(p)->set_magic(kMagicCached); }

MM_INLINE void* bin_pop(Bin& b) {
  void* p = b.head;
  if (MM_LIKELY(p != nullptr)) {
    b.head = next_of(p);
    --b.count;
  }
  return p;
}

MM_INLINE void* alloc_fast(size_t n) {
  if (MM_LIKELY(n <= kSmallMax)) {
    void* p = bin_pop(t_cache.bins[bin_index(n)]);  // bin 0 (n == 0) is always empty
    if (MM_LIKELY(p != nullptr)) return p;
  } else if (n <= kCachedMax) {
    uint32_t bin = bin_index(n);
    void* p = bin_pop(t_cache.bins[bin]);
    if (MM_LIKELY(p != nullptr)) {
      chunk_mark_used(p);
      return p;
    }
  }
  return alloc_slow(n);
}

MM_INLINE bool bin_push(Bin& b, void* p) {
  // b.head == p is an immediate double free: the slow path reports it.
  if (MM_LIKELY(b.count < b.max && b.head != p)) {
    next_of(p) = b.head;
    b.head = p;
    ++b.count;
    return true;
  }
  return false;
}

// A medium chunk of 257..1024 payload bytes whose header is a valid in-use one goes
// into its bin, marked as cached; anything else takes the slow path.
MM_INLINE bool dealloc_medium_fast(void* p) {
  Chunk* c = Chunk::of(p);
  uint64_t head = c->head();
  size_t payload = (head & ~(kMagicMask | kChunkFlagMask)) - kChunkHeader;
  if ((head & (kMagicMask | kChunkInUse | kChunkSentinel)) != (kMagicUsed | kChunkInUse) ||
      payload - (kSmallMax + 1) >= kCachedMax - kSmallMax)
    return false;
  if (!bin_push(t_cache.bins[bin_index(payload)], p)) return false;
  c->set_head((head & ~kMagicMask) | kMagicCached);
  return true;
}

MM_INLINE void dealloc_fast(void* p) {
  // free(NULL), and every free where the flat class map is missing, reads class 0
  // and goes slow.
  uint8_t cls = class_of_fast(page_of(p));
  if (MM_LIKELY(is_slab_cls(cls))) {
    if (MM_LIKELY(bin_push(t_cache.bins[static_cast<size_t>(cls)], p))) return;
  } else if (cls == kClsMedium && dealloc_medium_fast(p)) {
    return;
  }
  dealloc_slow(p, cls);
}

}  // namespace mm
