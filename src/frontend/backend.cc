#include "backend.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "../api/config.h"
#include "../common/lock.h"
#include "../medium/heap_registry.h"
#include "../meta/meta.h"
#include "../page/page_heap.h"
#include "../small/central_free_list.h"
#include "../small/transfer_cache.h"
#include "thread_cache.h"

namespace mm {

bool g_inited = false;

namespace {
Lock g_init_lock;
constinit CentralFreeList g_central[kNumSmallClasses + 1];
// Transfer caches come in shards, one per group of threads (a thread's shard is
// fixed at set-up): a thread mostly gets its own batches back, warm, and threads
// on different shards do not fight over one stack top. A thread whose own two
// shards are full lends to the others; one whose own two are empty borrows only
// from a shard at least three quarters full (its owner frees more than it takes,
// as a consumer thread does) or whose last batch it pushed itself (one thread
// whose working set outgrew its own two shards), else goes to the central list.
// Borrowing from any non-empty shard let two threadtest threads fall into taking
// each other's batches round after round (up to 36810 of 52000 pops in one run,
// against 0-300 when they do not), each then waiting on lines the other core had
// just written.
constexpr uint32_t kShards = 4;
constinit TransferCache g_transfer[kShards][kNumSmallClasses + 1];
// A thread tries its own shard first, then the one two away: two threads with
// consecutive shards (the usual pair) then overflow into different shards and do
// not pick up each other's batches, whose lines sit modified in the other core.
constexpr uint32_t kShardOrder[kShards] = {0, 2, 1, 3};
MM_INLINE uint32_t my_id() { return t_cache.shard + 1; }  // unique per thread
// The calling thread's i-th choice of shard for class cls.
MM_INLINE TransferCache& shard_choice(uint32_t i, uint32_t cls) {
  return g_transfer[(t_cache.shard % kShards) ^ kShardOrder[i]][cls];
}

// Medium transfer caches, one per cached medium bin. A thread that frees chunks
// of heaps other than its own (the consumer of a producer/consumer pair) would
// otherwise send each overflowing batch home through a heap lock and a merge,
// and the allocating thread would split them out again; here whole batches pass
// as they are, as slab objects do. Only foreign chunks come here, so a
// single-threaded program merges exactly as before; the pressure path and
// scavenging send batches home.
constexpr size_t kMediumTransferBytes = 64 * 1024;  // per bin
constinit TransferCache g_medium_transfer[kNumBins];

size_t g_large_bytes = 0;

uint32_t cpu_count() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  int n = CPU_COUNT(&set);
  return n > 0 ? static_cast<uint32_t>(n) : 1;
}
}  // namespace

void init_slow() {
  LockGuard g(g_init_lock);
  if (g_inited) return;
  config_load();
  g_pagemap.init_class_map();
  g_cache_secret ^= reinterpret_cast<uintptr_t>(&g_init_lock) * 0x2545f4914f6cdd1d;
  page_heap().set_release_threshold(g_config.release_threshold >> kPageShift);
  for (uint32_t c = 1; c <= kNumSmallClasses; ++c) {
    g_central[c].init(c, &page_heap());
    // Whole batches circulate here without a lock; bound each class by bytes.
    for (auto& shard : g_transfer)
      shard[c].set_capacity(
          static_cast<uint32_t>(TransferCache::kCapacityBytes / kShards / batch_bytes(c)));
  }
  for (uint32_t b = kNumSmallClasses + 1; b < kNumBins; ++b) {
    g_medium_transfer[b].set_link_word(2);
    g_medium_transfer[b].set_capacity(static_cast<uint32_t>(kMediumTransferBytes / batch_bytes(b)));
  }
  uint32_t cpus = cpu_count();
  uint32_t cap = g_config.max_heaps ? static_cast<uint32_t>(g_config.max_heaps) : 4 * cpus;
  heap_registry().set_cap(cap < 8 && !g_config.max_heaps ? 8 : cap);
  thread_cache_init_key();
  __atomic_store_n(&g_inited, true, __ATOMIC_RELEASE);
}

// ---- small tier -------------------------------------------------------------

int small_fetch(uint32_t cls, void** head, int n) {
  ensure_init();
  if (static_cast<uint32_t>(n) == class_info(cls).batch) {
    for (uint32_t i = 0; i < kShards; ++i) {
      TransferCache& tc = shard_choice(i, cls);
      if (i >= 2 && tc.last_pusher() != my_id() && !tc.has_surplus())
        continue;  // another thread's working set
      if (void* b = tc.pop()) {
        *head = b;
        return n;
      }
    }
  }
  return g_central[cls].remove_range(head, n);
}

void small_release(uint32_t cls, void* head, int n) {
  if (static_cast<uint32_t>(n) == class_info(cls).batch) {
    for (uint32_t i = 0; i < kShards; ++i) {
      TransferCache& tc = shard_choice(i, cls);
      if (tc.push(head)) {
        tc.set_last_pusher(my_id());
        return;
      }
    }
  }
  g_central[cls].insert_range(head);
}

// ---- medium tier ------------------------------------------------------------

bool medium_transfer_push(uint32_t bin, void* head) { return g_medium_transfer[bin].push(head); }
void* medium_transfer_pop(uint32_t bin) { return g_medium_transfer[bin].pop(); }

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
    int got = 0;
    void* last = nullptr;
    for (; got < n; ++got) {
      void* p = h->alloc(csize);
      if (!p) break;
      if (last)
        next_of(last) = p;
      else
        *head = p;
      last = p;
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

void medium_free(MediumHeap* mine, Chunk* c) {
  void* p = c->payload();
  next_of(p) = nullptr;  // a chain of one
  medium_free_chain(mine, p);
}

void medium_free_chain(MediumHeap* mine, void* head) {
  // Chunks of one batch nearly always share a heap: take its lock once.
  MediumHeap* locked = nullptr;
  for (void* next; head; head = next) {
    next = next_of(head);
    Chunk* c = Chunk::of(head);
    MediumHeap* h = g_pagemap.span_of(c)->heap;
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

// ---- large tier -------------------------------------------------------------

void* large_alloc(size_t n, size_t align) {
  ensure_init();
  size_t pages = pages_for(n);
  Span* s = align > kPageSize ? page_heap().alloc_aligned(pages, align >> kPageShift,
                                                          SpanState::kLarge, kClsLarge)
                              : page_heap().alloc(pages, SpanState::kLarge, kClsLarge);
  if (!s) return nullptr;
  __atomic_add_fetch(&g_large_bytes, s->bytes(), __ATOMIC_RELAXED);
  return s->base();
}

void large_free(Span* s) {
  __atomic_sub_fetch(&g_large_bytes, s->bytes(), __ATOMIC_RELAXED);
  page_heap().free(s);
}

bool large_resize(Span* s, size_t pages) {
  size_t before = s->bytes();
  if (pages < s->npages) {
    page_heap().shrink(s, pages);
  } else if (pages > s->npages && !page_heap().extend(s, pages)) {
    return false;
  }
  __atomic_add_fetch(&g_large_bytes, s->bytes() - before, __ATOMIC_RELAXED);  // wraps on shrink
  return true;
}

size_t large_bytes_in_use() { return __atomic_load_n(&g_large_bytes, __ATOMIC_RELAXED); }

// ---- memory pressure ----------------------------------------------------------

namespace {
// Batch counts at the last scavenge: a transfer cache whose count has not moved
// since is idle. Read and written racily by design: it is a heuristic.
uint32_t g_transfer_seen[kShards][kNumSmallClasses + 1];
uint32_t g_medium_transfer_seen[kNumBins];

// How many batches to take out of a transfer cache: all, or half of an idle one's.
uint32_t drain_count(TransferCache& tc, uint32_t& seen_slot, bool idle_half) {
  uint32_t now = tc.batches();
  uint32_t seen = __atomic_exchange_n(&seen_slot, now, __ATOMIC_RELAXED);
  return !idle_half ? UINT32_MAX : (now == seen ? now / 2 : 0);
}

// Moves batches from every transfer cache to the central lists, which return
// wholly free slabs to the page heap, and medium batches to their heaps: all of
// them, or half of each idle cache's.
void drain_transfer_caches(bool idle_half) {
  for (uint32_t s = 0; s < kShards; ++s) {
    for (uint32_t c = 1; c <= kNumSmallClasses; ++c) {
      uint32_t n = drain_count(g_transfer[s][c], g_transfer_seen[s][c], idle_half);
      for (; n > 0; --n) {
        void* b = g_transfer[s][c].pop();
        if (!b) break;
        g_central[c].insert_range(b);
      }
    }
  }
  for (uint32_t b = kNumSmallClasses + 1; b < kNumBins; ++b) {
    uint32_t n = drain_count(g_medium_transfer[b], g_medium_transfer_seen[b], idle_half);
    for (; n > 0; --n) {
      void* head = g_medium_transfer[b].pop();
      if (!head) break;
      medium_free_chain(nullptr, head);  // home, under each heap's lock
    }
  }
}
}  // namespace

void relieve_pressure() {
  ensure_init();
  if (ThreadCache* tc = thread_cache_setup()) thread_cache_flush(tc);
  uint32_t epoch = __atomic_add_fetch(&g_flush_epoch, 1, __ATOMIC_RELAXED);
  if (t_cache.state == kCacheActive) t_cache.flush_epoch = epoch;
  thread_cache_flush_parked();
  drain_transfer_caches(false);
  HeapRegistry& reg = heap_registry();
  LockGuard g(reg.lock());
  for (MediumHeap* h = reg.first(); h; h = h->reg_next) {
    LockGuard hg(h->lock());
    h->trim();
  }
}

void scavenge_caches() {
  if (ThreadCache* tc = thread_cache_setup()) thread_cache_scavenge(tc);
  thread_cache_flush_parked();
  drain_transfer_caches(true);
}

void release_free_memory() {
  relieve_pressure();
  LockGuard g(page_heap().lock());
  page_heap().release_free(0);
}

// ---- fork -------------------------------------------------------------------
// Every lock has a rank, and prepare takes them all in rank order: thread-cache
// registry, heap registry, each medium heap, central free lists, page heap, metadata.

namespace {
void fork_prepare() {
  thread_cache_fork_prepare();
  HeapRegistry& reg = heap_registry();
  reg.lock().lock();
  for (MediumHeap* h = reg.first(); h; h = h->reg_next) h->lock().lock();
  for (uint32_t c = 1; c <= kNumSmallClasses; ++c) g_central[c].lock().lock();
  page_heap().lock().lock();
  meta_lock().lock();
}

void fork_parent() {
  meta_lock().unlock();
  page_heap().lock().unlock();
  for (uint32_t c = kNumSmallClasses; c >= 1; --c) g_central[c].lock().unlock();
  HeapRegistry& reg = heap_registry();
  for (MediumHeap* h = reg.first(); h; h = h->reg_next) h->lock().unlock();
  reg.lock().unlock();
  thread_cache_fork_parent();
}

void fork_child() {
  meta_lock().reset_in_child();
  page_heap().lock().reset_in_child();
  for (uint32_t c = 1; c <= kNumSmallClasses; ++c) g_central[c].lock().reset_in_child();
  HeapRegistry& reg = heap_registry();
  MediumHeap* mine = t_cache.state == kCacheActive ? t_cache.heap : nullptr;
  for (MediumHeap* h = reg.first(); h; h = h->reg_next) {
    h->lock().reset_in_child();
    h->owners = h == mine ? 1 : 0;  // the other threads are gone: their heaps are orphans
  }
  reg.lock().reset_in_child();
  thread_cache_fork_child();
}

__attribute__((constructor)) void register_fork_handlers() {
  ensure_init();
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}
}  // namespace

// ---- stats ------------------------------------------------------------------

size_t small_free_bytes() {
  size_t total = 0;
  for (uint32_t c = 1; c <= kNumSmallClasses; ++c)
    total += g_central[c].free_objects() * class_info(c).size;
  return total;
}

size_t transfer_cache_bytes() {
  size_t total = 0;
  for (uint32_t c = 1; c <= kNumSmallClasses; ++c)
    for (auto& shard : g_transfer) total += shard[c].batches() * batch_bytes(c);
  for (uint32_t b = kNumSmallClasses + 1; b < kNumBins; ++b)
    total += g_medium_transfer[b].batches() * batch_bytes(b);
  return total;
}

}  // namespace mm
