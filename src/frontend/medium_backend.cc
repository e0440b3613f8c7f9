#include "medium_backend.h"

#include <sched.h>

#include "../common/batch_stack.h"
#include "../common/config.h"
#include "../common/size_class.h"
#include "../common/tuning.h"
#include "../medium/heap_registry.h"
#include "../page/page_heap.h"
#include "process.h"
#include "thread_cache.h"

namespace mm {

namespace {
// Medium transfer stacks, one per cached medium bin. A thread that frees chunks of
// heaps other than its own (the consumer of a producer/consumer pair) would
// otherwise send each overflowing batch home through a heap lock and a merge, and
// the allocating thread would split them out again; here whole batches pass as
// they are, as slab objects do. Only foreign chunks come here, so a
// single-threaded program merges exactly as before; the pressure path and
// scavenging send batches home.
constinit BatchStack g_medium_transfer[kNumBins];
uint32_t g_medium_transfer_seen[kNumBins];

size_t g_large_bytes = 0;

uint32_t cpu_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}

// One heap per thread up to MYMALLOC_MAX_HEAPS, by default 4 per CPU and at least 8.
uint32_t heap_cap() {
  if (g_config.max_heaps) return static_cast<uint32_t>(g_config.max_heaps);
  uint32_t cap = 4 * cpu_count();
  return cap < 8 ? 8 : cap;
}
}  // namespace

void medium_backend_init() {
  for (uint32_t b = kNumSmallClasses + 1; b < kNumBins; ++b) {
    g_medium_transfer[b].set_link_word(2);
    g_medium_transfer[b].set_capacity(static_cast<uint32_t>(kMediumTransferBytes / bin_size(b)));
  }
  heap_registry().set_cap(heap_cap());
}

MediumHeap* thread_heap(ThreadCache* tc) {
  if (!tc) return nullptr;
  if (MM_UNLIKELY(!tc->heap)) tc->heap = heap_registry().attach(locality_group(tc));
  return tc->heap;
}

// Chains of whole batches (n of them): a pop hands its caller one or more batches,
// their length in *n.
bool medium_transfer_push(uint32_t bin, void* head, int n) {
  return g_medium_transfer[bin].push(head, static_cast<uint32_t>(n));
}
void* medium_transfer_pop(uint32_t bin, int* n) {
  uint32_t got;
  void* head = g_medium_transfer[bin].pop(&got);
  MM_ASSERT(!head || got % class_info(bin).batch == 0);
  if (n) *n = static_cast<int>(got);
  return head;
}

namespace {
// A thread without a cache (it is exiting) borrows a heap for one call.
template <class F>
auto with_heap(MediumHeap* h, F f) {
  bool borrowed = !h;
  if (borrowed) h = heap_registry().attach();
  if (!h) return decltype(f(h))();
  auto r = [&] {
    LockGuard g(h->lock());
    return f(h);
  }();
  if (borrowed) heap_registry().detach(h);
  return r;
}
}  // namespace

void* medium_alloc(MediumHeap* heap, size_t csize) {
  return with_heap(heap, [&](MediumHeap* h) { return h->alloc(csize); });
}

int medium_alloc_batch(MediumHeap* heap, size_t csize, void** head, int n) {
  return with_heap(heap, [&](MediumHeap* h) {
    constexpr int kRun = 16;  // a batch of the bins up to 1 KiB at most (size_class.h)
    const bool grid = csize - kChunkHeader <= kCachedMax && !g_config.check;
    void* run[kRun];
    int got = 0;
    void* last = nullptr;
    while (got < n) {
      int want = n - got < kRun ? n - got : kRun;
      // Bins up to 1 KiB on grid pages first (not in checking mode: no cache).
      int k = grid ? h->alloc_grid(csize, want, run) : 0;
      if (k < want) k += h->alloc_run(csize, want - k, run + k);
      for (int i = 0; i < k; ++i) {
        if (last)
          next_of(last) = run[i];
        else
          *head = run[i];
        last = run[i];
      }
      got += k;
      if (k < want) break;
    }
    if (last) next_of(last) = nullptr;
    return got;
  });
}

Chunk* medium_chunk(void* p, Span* s, const char* func) {
  Chunk* c = Chunk::of(p);
  if ((reinterpret_cast<uintptr_t>(p) & 15) || !s || s->state != SpanState::kMedium ||
      reinterpret_cast<char*>(c) < s->base())
    fatal(func, "invalid pointer", p);
  if (MM_LIKELY(c->valid_used() && !is_cached_chunk(p))) return c;
  if (c->valid_free() || c->valid_used()) fatal(func, "double free of", p);
  // In use, but with the magic of another size: the size word was overwritten
  // (chunk.h, used_magic), or p is no chunk at all.
  if (c->head() & kChunkInUse) fatal(func, "corrupted chunk header (or invalid pointer) of", p);
  fatal(func, "invalid pointer", p);
}

namespace {
// Frees into h under its lock when this thread may: its own heap, an orphan, or
// any heap when the thread has none (it is exiting).
MM_INLINE bool frees_directly(MediumHeap* mine, MediumHeap* h) {
  return !mine || h == mine || __atomic_load_n(&h->owners, __ATOMIC_RELAXED) == 0;
}

// Another thread's heap: park the chunk; its owner merges it under its own lock.
// If the stack grows long (the owner is idle), merge it ourselves when we can.
void remote_free(MediumHeap* h, Chunk* c) {
  if (h->remote_push(c) && h->lock().try_lock()) {
    h->drain_remote();
    h->lock().unlock();
  }
}
}  // namespace

void medium_free(ThreadCache* tc, Chunk* c) {
  count_returned(tc, medium_count_class(c->size() - kChunkHeader), 1);
  void* p = c->payload();
  next_of(p) = nullptr;  // a chain of one
  medium_free_chain(thread_heap(tc), p);
}

void medium_free_chain(MediumHeap* mine, void* head) {
  // Chunks of one batch nearly always share a heap: take its lock once.
  MediumHeap* locked = nullptr;
  for (void* next; head; head = next) {
    next = next_of(head);
    Chunk* c = Chunk::of(head);
    MediumHeap* h = g_pagemap.span_of(c)->heap;
    MM_ASSERT(h != nullptr);  // a medium chunk's region belongs to a heap
    if (h != locked) {
      if (!frees_directly(mine, h)) {
        remote_free(h, c);
        continue;
      }
      if (locked) locked->lock().unlock();
      h->lock().lock();
      locked = h;
      if (h->has_remote()) h->drain_remote();
    }
    h->free_chunk(c);
  }
  if (locked) locked->lock().unlock();
}

void medium_return_transfer(bool idle_half) {
  for (uint32_t b = kNumSmallClasses + 1; b < kNumBins; ++b) {
    uint32_t n = batches_to_drain(g_medium_transfer[b], g_medium_transfer_seen[b], idle_half);
    for (; n > 0; --n) {
      void* head = medium_transfer_pop(b, nullptr);
      if (!head) break;
      medium_free_chain(nullptr, head);  // home, under each heap's lock
    }
  }
}

size_t medium_transfer_bytes() {
  size_t total = 0;
  for (uint32_t b = kNumSmallClasses + 1; b < kNumBins; ++b)
    total += size_t{g_medium_transfer[b].objects()} * bin_size(b);
  return total;
}

void medium_trim_all() {
  HeapRegistry& reg = heap_registry();
  LockGuard g(reg.lock());
  for (MediumHeap* h = reg.first(); h; h = h->reg_next) {
    LockGuard hg(h->lock());
    h->trim();
  }
}

// ---- large tier -------------------------------------------------------------

size_t large_pages(size_t n) {
  // Large sizes come in classes, eight per doubling and at least 64 KiB apart (as
  // mimalloc's slices are): a freed block fits the next request of its class
  // exactly, so churn reuses whole spans, and their first pages, the ones a
  // program touches, instead of leaving slivers and starting blocks on fresh
  // pages. The slack is address space that the program does not touch, and it is
  // the first to go when the heap cannot grow.
  size_t pages = pages_for(n);
  size_t lg = 63 - static_cast<size_t>(__builtin_clzll(pages));
  size_t step = lg > kLargeClassBits ? size_t{1} << (lg - kLargeClassBits) : 1;
  if (step < kLargeClassMinStep) step = kLargeClassMinStep;
  return align_up(pages, step);
}

namespace {
Span* large_span(size_t pages, size_t align) {
  Span* s = align > kPageSize ? page_heap().alloc_aligned(pages, align >> kPageShift,
                                                          SpanState::kLarge, kClsLarge)
                              : page_heap().alloc(pages, SpanState::kLarge, kClsLarge);
  if (s) __atomic_add_fetch(&g_large_bytes, s->bytes(), __ATOMIC_RELAXED);
  return s;
}
}  // namespace

void* large_alloc(size_t n, size_t align) {
  ensure_init();
  size_t exact = pages_for(n);
  for (size_t pages = large_pages(n);; pages = exact) {
    if (Span* s = large_span(pages, align)) return s->base();
    if (pages == exact) return nullptr;
  }
}

Span* large_alloc_exact(size_t n) { return large_span(pages_for(n ? n : 1), 0); }

void large_free(Span* s) {
  __atomic_sub_fetch(&g_large_bytes, s->bytes(), __ATOMIC_RELAXED);
  page_heap().free(s);
}

bool large_resize(Span* s, size_t n) {
  size_t before = s->bytes();
  size_t exact = pages_for(n), pages = large_pages(n);
  if (exact <= s->npages) {
    if (pages < s->npages) page_heap().shrink(s, pages);  // else it fits as it is
  } else if (!page_heap().extend(s, pages) && !page_heap().extend(s, exact)) {
    return false;
  }
  __atomic_add_fetch(&g_large_bytes, s->bytes() - before, __ATOMIC_RELAXED);  // wraps on shrink
  return true;
}

size_t large_bytes_in_use() { return __atomic_load_n(&g_large_bytes, __ATOMIC_RELAXED); }
const size_t* large_bytes_counter() { return &g_large_bytes; }

// ---- fork -------------------------------------------------------------------

void heap_registry_locks(void (*op)(Lock&)) { op(heap_registry().lock()); }

void medium_heap_locks(void (*op)(Lock&)) {
  for (MediumHeap* h = heap_registry().first(); h; h = h->reg_next) op(h->lock());
}

void medium_backend_fork_child() {
  MediumHeap* mine = t_cache.state == kCacheActive ? t_cache.heap : nullptr;
  for (MediumHeap* h = heap_registry().first(); h; h = h->reg_next)
    h->owners = h == mine ? 1 : 0;  // the other threads are gone: their heaps are orphans
}

}  // namespace mm
