// Slow paths of malloc and free, and calloc, realloc, the aligned family and
// malloc_usable_size over the three tiers.
#include "allocator.h"

#include <errno.h>
#include <string.h>

#include "../common/config.h"
#include "../common/tuning.h"
#include "../medium/medium_heap.h"
#include "../os/os.h"
#include "../page/page_heap.h"
#include "../small/central_free_list.h"
#include "checked.h"
#include "medium_backend.h"
#include "pressure.h"
#include "profile.h"
#include "small_backend.h"

namespace mm {

namespace {
constexpr size_t kMaxRequest = static_cast<size_t>(PTRDIFF_MAX);

// Requests in the bins' range: up to 1 KiB, or up to kBigCachedMax within the
// medium tier (MYMALLOC_MEDIUM_MAX may end it sooner).
MM_INLINE bool binned(size_t n) {
  return n <= kCachedMax || (n <= kBigCachedMax && n <= g_config.medium_max);
}

void* alloc_once(size_t n) {
  if (binned(n)) {
    uint32_t bin = cached_bin(n ? n : 1);
    ThreadCache* tc = thread_cache_setup();
    if (tc) {
      if (void* p = bin_take(tc->bins[bin])) return p;
      return cache_refill(tc, bin);
    }
    // An exiting thread whose cache is gone: straight to the back ends.
    void* p = nullptr;
    if (is_small_class(bin)) {
      if (!small_fetch(bin, &p, 1)) return nullptr;
      cache_token_slot(p) = 0;
    } else {
      p = medium_alloc(nullptr, bin_size(bin) + kChunkHeader);
    }
    if (p) count_fetched(nullptr, bin, 1);
    return p;
  }
  ensure_init();
  if (n <= g_config.medium_max) {
    ThreadCache* tc = thread_cache_setup();
    void* p = medium_alloc(thread_heap(tc), chunk_size_for(n));
    if (p) count_fetched(tc, medium_count_class(Chunk::of(p)->size() - kChunkHeader), 1);
    return p;
  }
  void* p = large_alloc(n, 0);
  if (p) count_fetched(active_cache(), kClsLarge, 1);
  return p;
}

// Runs f until it succeeds; on the first failure relieves memory pressure and tries
// once more with exactly the need. Then NULL with ENOMEM.
template <class F>
void* with_retry(F f) {
  stash_drain_pending(&t_cache);  // chunks freed just now may serve this request
  thread_cache_age_parked();
  decay_if_due();
  size_t grown = os::grown_bytes();
  void* p = f();
  if (MM_LIKELY(p != nullptr)) {
    // The heap just grew from the OS: give idle cached objects back, so that their
    // slabs can be freed and the next growth served from them instead.
    if (MM_UNLIKELY(os::grown_bytes() != grown)) scavenge_caches();
    return p;
  }
  relieve_pressure();
  p = f();
  if (!p) errno = ENOMEM;
  return p;
}

// cls: the page's class byte, which (unlike the span pointer inside a large block,
// see PageHeap::map) is exact on every page.
Span* span_checked(void* p, const char* func, uint8_t* cls) {
  Span* s = g_pagemap.span_of(p, cls);
  if (!s || s->state == SpanState::kFree) fatal(func, "invalid pointer (or double free)", p);
  return s;
}

void check_small(void* p, Span* s, const char* func) {
  if (!is_slab_object(s, p)) fatal(func, "invalid pointer", p);
}

// Free pages of a large span keep its class byte (PageHeap::free_locked): the
// span's state tells a live block from a freed one.
void check_large(void* p, Span* s, const char* func) {
  if (!s || s->state != SpanState::kLarge) fatal(func, "double free (or invalid pointer) of", p);
  if (p != s->base()) fatal(func, "invalid pointer", p);
}

// One attempt, without pressure relief and without touching errno: for headroom.
void* alloc_quiet(size_t n) {
  ErrnoKeeper keep;
  return alloc_once(n);
}

__attribute__((noinline)) void* alloc_slow_rest(size_t n) {
  if (MM_UNLIKELY(g_config.check)) return checked_alloc(n, 0);
  // The fast path counted requests up to kCachedMax; larger ones count here.
  if (n > kCachedMax && n <= kMaxRequest) t_cache.sample_left -= static_cast<int64_t>(n);
  if (MM_UNLIKELY(t_cache.sample_left < 0))
    if (void* p = prof_sample_alloc(n)) return p;
  return alloc_unchecked(n);
}
}  // namespace

void* alloc_slow(size_t n) {
  // A medium request in a class of its own (over 1 KiB): its bin, then the next
  // class's (docs/architecture.md), with no stack frame; counted for the heap
  // profiler here only when a bin serves it, else by alloc_slow_rest.
  // (Not before the thread's set-up: its bins' zero links are not empty lists,
  // see Bin. The profiler's count is no guide: a sampled allocation sets it.)
  if (MM_LIKELY(n > kCachedMax && binned(n) && !g_config.check && t_cache.state == kCacheActive)) {
    int64_t left = t_cache.sample_left - static_cast<int64_t>(n);
    if (MM_LIKELY(left >= 0)) {
      Bin* b = &t_cache.bins[big_cached_bin(n)];
      void* p = bin_take(b[0]);
      if (!p && b + 1 < &t_cache.bins[kNumBins]) p = bin_take(b[1]);
      if (p) {
        t_cache.sample_left = left;
        return p;
      }
    }
  }
  return alloc_slow_rest(n);
}

void* alloc_unchecked(size_t n) {
  if (MM_UNLIKELY(n > kMaxRequest)) {
    errno = ENOMEM;
    return nullptr;
  }
  return with_retry([n] { return alloc_once(n); });
}

// The fast path's bin was full (or p was its head): read the class byte again.
void dealloc_bin_full(void* p) {
  if (MM_UNLIKELY(g_config.check && p)) return checked_free(p, "free");
  dealloc_unchecked(p);
}

void dealloc_unchecked(void* p) { dealloc_with_class(p, class_of_fast(page_of(p))); }

// A medium chunk whose stash is full (or whose thread has none yet, or that is
// the stash's head: a double free) drains the stash and goes into its own bin;
// anything else goes on to dealloc_slow.
void dealloc_with_class(void* p, uint8_t cls) {
  Bin& b = t_cache.bins[cls];
  if (MM_LIKELY(passes_start_check(p, start_check_of(b)) && bin_push(b, p))) return;
  if (cls == kClsMedium) {
    ThreadCache* tc = &t_cache;
    if (MM_UNLIKELY(tc->bins[kClsMedium].head() == p)) fatal("free", "double free of", p);
    stash_drain_pending(tc);
    if (dealloc_medium_fast(p)) return;
  }
  dealloc_slow(p, cls);
}

void dealloc_slow(void* p, uint8_t cls) {
  if (!p) return;
  if (cls == kClsNone) {
    cls = g_pagemap.cls(page_of(p));  // no flat class map: ask the radix tree
    if (cls == kClsNone) {
      Span* s = g_pagemap.span_of(p);
      fatal("free", s ? "double free (or invalid pointer) of" : "invalid pointer", p);
    }
    dealloc_with_class(p, cls);  // the fast path's dispatch, now with the class known
    return;
  }
  if (is_small_class(cls)) {
    check_small(p, g_pagemap.span_of(p), "free");
    if (is_cached_chunk(p)) fatal("free", "double free of", p);  // its token: see bin_push
    ThreadCache* tc = thread_cache_setup();
    if (!tc) {
      mark_cached(p);
      next_of(p) = nullptr;
      count_returned(nullptr, cls, 1);
      small_return(cls, p, 1);
      return;
    }
    if (bin_push(tc->bins[cls], p)) return;  // the thread was just set up
    cache_overflow(tc, cls, p);
    return;
  }
  if (cls == kClsMedium) {
    Chunk* c = medium_chunk(p, g_pagemap.span_of(p), "free");
    size_t payload = c->size() - kChunkHeader;
    ThreadCache* tc = thread_cache_setup();
    if (tc && payload > kSmallMax && payload <= kBigCachedMax) {
      if (dealloc_medium_fast(p)) return;                // the thread was just set up
      cache_overflow(tc, cached_bin_floor(payload), p);  // a class holds every such payload
      return;
    }
    medium_free(tc, c);
    return;
  }
  if (cls == kClsLarge) {
    Span* s = g_pagemap.span_of(p);
    check_large(p, s, "free");
    count_returned(active_cache(), kClsLarge, 1);
    if (MM_UNLIKELY(s->sample != nullptr)) prof_free(s);
    large_free(s);
    return;
  }
  fatal("free", "invalid pointer", p);
}

void* alloc_zeroed(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = alloc(total);
  if (p) memset(p, 0, total);
  return p;
}

namespace {
// A live, uncached medium chunk whose header vouches for it without the radix tree
// or the heap's lock; nullptr sends the caller down the checked path (which also
// takes a pointer at the very start of a page, whose header could be on an
// unmapped page).
MM_INLINE Chunk* medium_chunk_fast(void* p, uint8_t cls) {
  if (cls != kClsMedium || (reinterpret_cast<uintptr_t>(p) & (kPageSize - 1)) < kChunkHeader ||
      (reinterpret_cast<uintptr_t>(p) & 15) != 0)
    return nullptr;
  Chunk* c = Chunk::of(p);
  return c->valid_used() && !is_cached_chunk(p) ? c : nullptr;
}
MM_INLINE Chunk* medium_chunk_fast(void* p) {
  return medium_chunk_fast(p, class_of_fast(page_of(p)));
}
}  // namespace

size_t usable_size(void* p) {
  if (!p) return 0;
  if (MM_UNLIKELY(g_config.check)) return checked_usable_size(p);
  return usable_size_unchecked(p);
}

namespace {
__attribute__((noinline)) size_t usable_size_slow(void* p, const char* func) {
  uint8_t cls;
  Span* s = span_checked(p, func, &cls);
  if (cls == kClsMedium) return medium_chunk(p, s, func)->size() - kChunkHeader;
  check_large(p, s, func);
  return MM_UNLIKELY(s->sample != nullptr) ? prof_usable_size(s) : s->bytes();
}
}  // namespace

size_t usable_size_unchecked(void* p, const char* func) {
  // A slab class's size is 16 times its class byte: 8 times the flat map's.
  static_assert(kFlatClassScale == 2 && bin_size(kNumSmallClasses) == 16 * kNumSmallClasses);
  unsigned scaled = class_scaled_fast(page_of(p));
  if (scaled - kFlatClassScale < kFlatClassScale * kNumSmallClasses) return size_t{scaled} * 8;
  // Programs that count their memory (redis) ask for every block they allocate
  // and free: a medium chunk's header answers without the radix tree, and
  // neither case needs a stack frame.
  if (Chunk* c = medium_chunk_fast(p, class_of_scaled(scaled))) return c->size() - kChunkHeader;
  return usable_size_slow(p, func);
}

namespace {
// A medium chunk resized in place where it can be; false: move the block. The
// span (for its heap's lock) is looked up only when growth in place may succeed:
// s when the caller has it, else the radix tree's.
bool medium_resize(void* p, Chunk* c, size_t n, Span* s) {
  if (n <= kSmallMax || n > g_config.medium_max) return false;  // changes tier
  size_t csize = chunk_size_for(n);
  if (MediumHeap::resize_is_noop(c, csize)) return true;  // no lock needed
  if (csize > c->size() && !MediumHeap::may_grow_in_place(c, csize)) return false;
  uint32_t before = medium_count_class(c->size() - kChunkHeader);
  MediumHeap* h = (s ? s : g_pagemap.span_of(p))->heap;
  bool ok;
  {
    LockGuard g(h->lock());
    ok = h->resize_in_place(c, csize);
  }
  uint32_t after = medium_count_class(c->size() - kChunkHeader);
  if (ok && after != before) {  // counted in its new class from now on
    count_returned(active_cache(), before, 1);
    count_fetched(active_cache(), after, 1);
  }
  return ok;
}

// In-place resize where the tier allows; false means move the block.
bool resize_in_place(void* p, uint8_t cls, Span* s, size_t n) {
  if (is_small_class(cls)) return size_bin(n) == cls;  // same class: nothing to do
  if (cls == kClsMedium) return medium_resize(p, medium_chunk(p, s, "realloc"), n, s);
  check_large(p, s, "realloc");
  if (MM_UNLIKELY(s->sample != nullptr))  // a sampled block keeps its pages and sample
    return n <= prof_usable_size(s);      // within the size it reports
  return n > g_config.medium_max && large_resize(s, n);
}
}  // namespace

// Everything but realloc_block's two common cases (below).
__attribute__((noinline)) void* realloc_slow(void* p, size_t n) {
  if (MM_UNLIKELY(g_config.check)) return checked_realloc(p, n);
  if (!p) return alloc(n);
  if (n == 0) {  // glibc: frees and returns NULL
    dealloc(p);
    return nullptr;
  }
  if (n > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  // A medium chunk whose header vouches for it (as in realloc_block) needs no
  // radix walk unless its heap's lock is taken; anything else is checked fully.
  uint8_t cls = kClsMedium;
  size_t old;
  Chunk* medium = medium_chunk_fast(p);
  if (medium) {
    if (medium_resize(p, medium, n, nullptr)) return p;
    old = medium->size() - kChunkHeader;
  } else {
    Span* s = span_checked(p, "realloc", &cls);
    if (is_small_class(cls)) check_small(p, s, "realloc");
    if (resize_in_place(p, cls, s, n)) return p;  // a medium chunk: medium_chunk checked it
    old = usable_size(p);
    if (cls == kClsMedium) medium = Chunk::of(p);
  }
  // A block that has to move to grow gets half its size more room (tuning.h), so
  // that a string or buffer grown by small appends is copied O(log n) times, not
  // O(n); the exact size is the fallback when the heap cannot give the headroom.
  void* q = nullptr;
  size_t roomy = old + old / kReallocHeadroomDiv;
  if (n > old && roomy > n) q = alloc_quiet(roomy);
  if (!q) q = alloc(n);
  if (!q) return nullptr;  // the old block stays intact
  size_t keep = old < n ? old : n;
  // A large block moving to a large block: the kernel moves its whole pages
  // instead of copying them (glibc grows its mmapped chunks with mremap); its old
  // range stays mapped, empty. The rest, or everything when the kernel refuses,
  // is copied.
  size_t moved = keep & ~(kPageSize - 1);
  if (keep < kMovePagesMin || cls != kClsLarge || class_of_fast(page_of(q)) != kClsLarge ||
      !os::move_pages(p, q, moved))
    moved = 0;
  memcpy(static_cast<char*>(q) + moved, static_cast<char*>(p) + moved, keep - moved);
  // A medium chunk moved away from goes back to its heap to merge, not into the
  // thread cache: a growing buffer leaves sizes it does not come back to, and
  // cached they held pages the heap could reuse (docs/architecture.md, realloc).
  medium ? medium_free(thread_cache_setup(), medium) : dealloc(p);
  return q;
}

void* realloc_block(void* p, size_t n) {
  // The common cases, with no stack frame: a slab object that stays in its
  // class, and a medium chunk that already has room (a string grown by appends).
  if (MM_LIKELY(p != nullptr && n - 1 < kMaxRequest && !g_config.check)) {
    uint8_t cls = class_of_fast(page_of(p));
    if (is_small_class(cls)) {
      if (size_bin(n) == cls && passes_start_check(p, kSlabStartChecks.c[cls])) return p;
    } else if (n > kSmallMax && n <= g_config.medium_max) {
      Chunk* c = medium_chunk_fast(p, cls);
      if (c && MediumHeap::resize_is_noop(c, chunk_size_for(n))) return p;
    }
  }
  return realloc_slow(p, n);
}

void* alloc_aligned(size_t align, size_t n) {
  if (MM_UNLIKELY(g_config.check && align > kAlignment)) return checked_alloc(n, align);
  return alloc_aligned_unchecked(align, n);
}

void* alloc_aligned_unchecked(size_t align, size_t n) {
  if (align <= kAlignment) return alloc(n);
  if (n > kMaxRequest) {
    errno = ENOMEM;
    return nullptr;
  }
  // A slab class whose size is a multiple of align holds only aligned objects,
  // since slabs start on page boundaries.
  size_t rounded = align_up(n ? n : 1, align);
  if (align <= kSmallMax && rounded <= kSmallMax)
    return g_config.check ? alloc_unchecked(rounded)
                          : alloc(rounded);  // checked: no second trailer
  void* p = with_retry([&] { return large_alloc(n ? n : 1, align); });
  if (p) count_fetched(active_cache(), kClsLarge, 1);
  return p;
}

}  // namespace mm
