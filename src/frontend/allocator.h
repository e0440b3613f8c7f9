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
#include "tls_bin.h"

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
      // Bins and classes are 16 bytes apart: the bin of n is at byte offset
      // (n + 15) & ~15 of the bins, one add and one and (bin 0, n == 0, is
      // always empty).
      static_assert(sizeof(Bin) == 16, "the bin of n is at the rounded size");
      const TlsBin<1> b{t_cache_tp_offset(), (n + 15) & ~size_t{15}};
      void* p;
      if (MM_LIKELY(b.pop(p))) {
        MM_ASSERT(b.bin().count() > 0);  // a non-empty list has a count
        b.took_one();
        cache_token_slot(p) = 0;  // handed out: no longer free (bin_link)
        return p;
      }
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
  const TlsBin<8> b{t_cache_tp_offset(), class_scaled_fast(page_of(p))};
  if (MM_LIKELY(b.took_place())) {
    if (MM_LIKELY(b.may_link(p))) {
      b.link(p);
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
