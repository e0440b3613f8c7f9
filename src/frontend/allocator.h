// The allocator's entry points with glibc semantics, as the api layer and the unit
// tests call them. Nothing here replaces the process's malloc: src/api does that.
//
// malloc(n)                                             [fast: allocator.h]
//   alloc_fast: n <= 1024, the profiler's count stays >= 0 after n, and the
//               bin of n has an object -> pop it
//   alloc_slow                                          [allocator.cc]
//     the count below zero: prof_sample_alloc           [profile.cc]
//     with_retry: drain the stash; alloc_once; on failure relieve_pressure and
//                 once more; after the heap grew, scavenge_caches   [pressure.cc]
//       alloc_once: n <= 1024 -> cache_refill           [thread_cache.cc]
//                      small:  small_fetch (transfer cache, central list)
//                      medium: medium_transfer_pop, else medium_alloc_batch
//                   n <= medium max -> medium_alloc      [medium_backend.cc]
//                   else           -> large_alloc
//
// free(p)
//   dealloc_fast: class byte of p's page (flat class map) indexes a bin:
//     slab class -> push onto its bin          (bin full: dealloc_bin_full)
//     medium     -> push onto the stash        (stash full: dealloc_refused
//                   links it and drains the stash: stash_drain)
//     none/large -> the always-full bin        -> dealloc_bin_full
//   dealloc_bin_full(p): reads the class byte again -> dealloc_with_class
//   dealloc_with_class(p, cls): the bin again; a medium chunk drains the stash
//     (stash_drain: each chunk through dealloc_medium_fast, else dealloc_slow)
//     and goes to its size's bin (dealloc_medium_fast); else dealloc_slow
//   dealloc_slow(p, cls)                                 [allocator.cc]
//     no class in the flat map -> the radix tree's class -> dealloc_with_class
//     slab:   checked (interior pointer); cache_overflow, or small_return
//             for a thread without a cache
//     medium: checked (medium_chunk: magic, double free); cache_overflow for
//             cached sizes, else medium_free (own heap, orphan, or remote stack)
//     large:  checked (span start); large_free -> page heap
#pragma once
#include "../common/common.h"
#include "thread_cache.h"

namespace mm {

// Out-of-line halves (allocator.cc).
void* alloc_slow(size_t n);
void dealloc_bin_full(void* p);  // bin full (or p its head): class byte again
void dealloc_refused(void* p);   // dealloc_fast took a place in the bin and did not push
void dealloc_with_class(void* p, uint8_t cls);  // the same, the class known
void dealloc_slow(void* p, uint8_t cls);

MM_INLINE void* alloc_fast(size_t n) {
  if (MM_LIKELY(n <= kCachedMax)) {
    // The heap profiler's count (profile.h): below zero, this allocation may be
    // sampled, and alloc_slow decides. Larger requests are counted there.
    if (MM_LIKELY((t_cache.sample_left -= static_cast<int64_t>(n)) >= 0)) {
      Bin* bp = &t_cache_bin(n);  // bin 0 (n == 0) is always empty
      // The bin's address in rcx leaves rax to the object, which is returned
      // there: GCC otherwise loads it elsewhere and moves it (one instruction).
      MM_PIN_REG("+c", bp);
      void* p = bin_take(*bp);
      if (MM_LIKELY(p != nullptr)) return p;
    }
  }
  return alloc_slow(n);
}

MM_INLINE void dealloc_fast(void* p) {
  // free(NULL), and every free where the flat class map is missing, reads class 0
  // and goes slow.
  // Slab classes index their bins, the medium class the stash; the other class
  // bytes (none, large) index bins that are always full, so one test sends them
  // to the slow path.
  // The slow path reads the class byte again (an L1 hit) rather than taking it as
  // an argument: then nothing stays live beside the bin, one instruction fewer.
  // Then p must pass its class's start check (a slab object's start; the stash's
  // chunks 16-byte alignment), and not be free already (its token).
  static_assert(sizeof(Bin) == 8 * kFlatClassScale, "the scaled class byte * 8 is a bin offset");
  Bin* bp = reinterpret_cast<Bin*>(reinterpret_cast<char*>(t_cache.bins) +
                                   size_t{class_scaled_fast(page_of(p))} * 8);
  // One address for the bin and the entry beside it: without this GCC derives
  // each from the thread pointer separately (4 instructions more).
  MM_PIN_REG("+r", bp);
  Bin& b = *bp;
  if (MM_LIKELY(--b.room >= 0)) {
    if (MM_LIKELY(may_link(b, p))) {
      bin_link(b, p);
      return;
    }
  }
  dealloc_refused(p);
}

MM_INLINE void* alloc(size_t n) { return alloc_fast(n); }
MM_INLINE void dealloc(void* p) { dealloc_fast(p); }
void* alloc_zeroed(size_t count, size_t size);  // calloc
void* realloc_block(void* p, size_t n);         // realloc
void* alloc_aligned(size_t align, size_t n);    // align: a power of two
size_t usable_size(void* p);                    // malloc_usable_size; 0 for null

}  // namespace mm
