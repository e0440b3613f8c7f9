// Thread cache slow paths: set-up and teardown of a thread's cache, refill from and
// overflow to the back ends with slow start, the per-thread byte budget, flushes.
#include "thread_cache.h"

#include <errno.h>
#include <pthread.h>

#include "../common/config.h"
#include "../common/lock.h"
#include "../common/tuning.h"
#include "../medium/heap_registry.h"
#include "../meta/meta.h"
#include "../os/os.h"
#include "../page/page_heap.h"
#include "allocator.h"
#include "cache_budget.h"
#include "medium_backend.h"
#include "parked_cache.h"
#include "small_backend.h"

namespace mm {

__thread ThreadCache t_cache __attribute__((tls_model("initial-exec")));

uint32_t g_flush_epoch = 0;
uint64_t g_fetched[kNumBins + 2];
uint64_t g_returned[kNumBins + 2];

namespace {
Lock g_tc_lock{LockRank::kThreadCaches};  // guards the registry list below
ThreadCache* g_tc_head = nullptr;
pthread_key_t g_tc_key;
bool g_tc_key_ok = false;

void tc_register(ThreadCache* tc) {
  LockGuard g(g_tc_lock);
  tc->reg_prev = nullptr;
  tc->reg_next = g_tc_head;
  if (g_tc_head) g_tc_head->reg_prev = tc;
  g_tc_head = tc;
}

void tc_unregister(ThreadCache* tc) {
  LockGuard g(g_tc_lock);
  for (uint32_t c = 0; c < kNumBins + 2; ++c) {  // its counts go to the process's
    __atomic_fetch_add(&g_fetched[c], tc->fetched[c], __ATOMIC_RELAXED);
    __atomic_fetch_add(&g_returned[c], tc->returned[c], __ATOMIC_RELAXED);
    tc->fetched[c] = tc->returned[c] = 0;
  }
  if (tc->reg_prev)
    tc->reg_prev->reg_next = tc->reg_next;
  else
    g_tc_head = tc->reg_next;
  if (tc->reg_next) tc->reg_next->reg_prev = tc->reg_prev;
  tc->reg_next = tc->reg_prev = nullptr;
}

// pthread key destructor: runs when the thread exits. Allocation keeps working in
// this thread afterwards (state kCacheDead goes straight to the back ends).
void tc_destroy(void* arg) {
  auto* tc = static_cast<ThreadCache*>(arg);
  stash_drain_pending(tc);
  tc->bins[kClsMedium].set_max(0);  // from now on every medium free goes slow
  // Medium chunks go home rather than wait in a parked cache, which keeps the small
  // objects a new thread would otherwise fetch one slab batch at a time. Parked,
  // they pinned the heap: its free space stayed in pieces between them, so the
  // orphan purge made one madvise per piece (70 at the end of realloc_mix, 3.2 ms
  // of a 20 ms run) and 64 exited threads left 17 MiB behind; home, the heap
  // merges back into a few ranges (6 calls, 1.0 ms; 4 MiB left behind). Chunks
  // over 1 KiB went home already (8 parked caches held up to 8 MiB more).
  for (uint32_t bin = kNumSmallClasses + 1; bin < kNumBins; ++bin)
    lower_limit(tc, bin, tc->bins[bin].max);
  if (park_bins(tc->bins))
    tc->max_bytes[0] = tc->max_bytes[1] = 0;
  else
    thread_cache_flush(tc);
  tc_unregister(tc);
  heap_registry().detach(tc->heap);
  tc->heap = nullptr;
  tc->state = kCacheDead;
  page_heap().purge_excess();
}

// Whole batches of medium chunks whose first belongs to another thread's heap go to
// the medium transfer cache, for the next thread that allocates that size.
MM_INLINE bool for_transfer(const ThreadCache* tc, uint32_t bin, void* head, uint32_t n) {
  return n != 0 && n % class_info(bin).batch == 0 && g_pagemap.span_of(head)->heap != tc->heap;
}

// Medium chunks go home, for_transfer ones (tc null: a parked cache's, none) to the
// transfer cache; long_chain: slab chains over a batch may wait in one (small_return).
void return_chain(ThreadCache* tc, uint32_t bin, void* head, int n, bool long_chain = false) {
  count_returned(tc, bin, static_cast<uint64_t>(n));
  if (is_small_class(bin)) {
    small_return(bin, head, n, long_chain);
    return;
  }
  if (tc && for_transfer(tc, bin, head, static_cast<uint32_t>(n)) &&
      medium_transfer_push(bin, head, n))
    return;
  medium_free_chain(tc ? tc->heap : nullptr, head);
}

// Empties a whole set of bins (a thread's, or a parked cache's) into the back ends.
void return_bins(ThreadCache* tc, Bin* bins) {
  for (uint32_t bin = 1; bin < kNumBins; ++bin) {
    Bin& b = bins[bin];
    void* head = b.head();
    int n = static_cast<int>(b.count());
    // A bin's count is its list's length, unless the program freed an object twice
    // (the list then runs into a cycle): in the debug build that is reported here.
    MM_DEBUG_ONLY(if (list_length(head, b.count()) != b.count()) fatal(
        "free", "double free (a cached list is longer than its count) at", head));
    b = Bin::none();
    if (head) return_chain(tc, bin, head, n);
  }
}

// Takes over a parked cache: its bins fill our empty ones; where we already hold
// objects, its objects go back to the back ends. The budget bound is recomputed.
void adopt_parked(ThreadCache* tc, ParkedCache* pc) {
  for (uint32_t bin = 1; bin < kNumBins; ++bin) {
    Bin& mine = tc->bins[bin];
    Bin& theirs = pc->bins[bin];
    if (mine.head() == nullptr && theirs.max > mine.max) {
      tc->max_bytes[budget_group(bin)] += size_t{theirs.max - mine.max} * bin_size(bin);
      mine = theirs;
    } else if (void* head = theirs.head()) {
      return_chain(tc, bin, head, static_cast<int>(theirs.count()));
    }
  }
  free_parked(pc);
  trim_to_budget(tc);  // adopted limits may exceed a budget
}

// At exit the calling thread's stash is drained, so that a bad free among its
// chunks is still reported.
__attribute__((destructor)) void stash_drain_at_exit() {
  if (t_cache.state == kCacheActive) stash_drain_pending(&t_cache);
}

}  // namespace

namespace {
// Ends a list after its first n objects (n >= 1; it holds at least n) and returns
// the rest: a walk of n links.
void* cut_after(void* head, uint32_t n) {
  void* last = head;
  for (uint32_t i = 1; i < n; ++i) {
    last = next_of(last);
    MM_ASSERT(last != nullptr);  // the list holds at least count objects
  }
  void* rest = next_of(last);
  next_of(last) = nullptr;
  return rest;
}
}  // namespace

void return_from_bin(ThreadCache* tc, uint32_t bin, uint32_t n) {
  Bin& b = tc->bins[bin];
  if (n > b.count()) n = b.count();
  if (n == 0) return;
  void* head = b.head();
  b.set_head(n == b.count() ? nullptr : cut_after(head, n));  // all of it: no walk
  b.remove(n);
  return_chain(tc, bin, head, static_cast<int>(n));
}

namespace {
// Keeps the keep newest objects of a bin and moves the rest down as one chain,
// which the transfer caches take whole: the walk is keep links long, however many
// objects go.
void return_older(ThreadCache* tc, uint32_t bin, uint32_t keep) {
  Bin& b = tc->bins[bin];
  MM_ASSERT(keep < b.count());
  uint32_t n = b.count() - keep;
  void* older = b.head();
  if (keep)
    older = cut_after(older, keep);
  else
    b.set_head(nullptr);
  b.remove(n);
  return_chain(tc, bin, older, static_cast<int>(n), true);
}
}  // namespace

void thread_cache_init_key() {
  if (!g_tc_key_ok) g_tc_key_ok = pthread_key_create(&g_tc_key, tc_destroy) == 0;
}

ThreadCache* thread_cache_setup() {
  ThreadCache* tc = &t_cache;
  if (MM_LIKELY(tc->state == kCacheActive)) {
    uint32_t epoch = __atomic_load_n(&g_flush_epoch, __ATOMIC_RELAXED);
    if (MM_UNLIKELY(tc->flush_epoch != epoch)) {
      tc->flush_epoch = epoch;  // another thread ran out of memory: give ours back
      thread_cache_flush(tc);
    }
    return tc;
  }
  if (tc->state == kCacheDead) return nullptr;
  ensure_init();
  tc->state = kCacheActive;                     // before anything below can re-enter malloc
  for (Bin& b : tc->bins) b.set_head(nullptr);  // zero was not empty (Bin)
  tc->bins[kClsMedium].set_max(g_config.check ? 0 : kStashMax);  // checked: frees go slow
  for (uint32_t c = 1; c < kFirstBigBin; ++c) tc->starts[c] = kSlabStartChecks.c[c];
  tc->starts[kClsMedium] = start_check_for(kAlignment);
  static uint32_t next_serial = 0;
  tc->serial = __atomic_fetch_add(&next_serial, 1, __ATOMIC_RELAXED);
  tc->flush_epoch = __atomic_load_n(&g_flush_epoch, __ATOMIC_RELAXED);
  tc_register(tc);
  if (g_tc_key_ok) pthread_setspecific(g_tc_key, tc);
  return tc;
}

void stash_drain(ThreadCache* tc) {
  // Detach first: a flush inside dealloc_slow drains again, and finds it empty.
  Bin& st = tc->bins[kClsMedium];
  void* p = st.head();
  st.set_head(nullptr);
  st.room = static_cast<int32_t>(st.max);
  // Every medium free of a program comes through here (larson 8..1000 B: 18% of
  // all instructions): the link secret is kept in a register (the stores below
  // could alias it) and each chunk linked by hand. 38 -> 33 instructions a chunk.
  const uintptr_t secret = g_secret;
  for (void* next; !ends_list(p); p = next) {
    auto* slot = static_cast<uintptr_t*>(p);
    next = reinterpret_cast<void*>(slot[0] + secret);
    // The stash holds each chunk once (a second free met its token in
    // dealloc_fast): into its bin with the token it has, or the slow path.
    Bin* b = medium_cache_bin(tc->bins, p);
    if (MM_LIKELY(b != nullptr)) {
      if (MM_LIKELY(--b->room >= 0)) {
        slot[0] = b->link;
        b->link = reinterpret_cast<uintptr_t>(p) - secret;
        continue;
      }
      // Not full after all: the room back. (Read again: kept in a register
      // from the decrement above, it cost the common case three instructions.)
      asm("" ::: "memory");
      ++b->room;
    }
    cache_token_slot(p) = 0;  // the stash's mark
    dealloc_slow(p, kClsMedium);
  }
}

// dealloc_fast took a place in p's bin and did not push (allocator.h).
void dealloc_refused(void* p) {
  uint8_t cls = class_of_scaled(class_scaled_fast(page_of(p)), false);  // free()'s bin
  Bin& b = t_cache.bins[cls];
  ++b.room;
  // A medium chunk that found the stash full (room 0 of a limit: in checking
  // mode, or without a cache, the limit is 0) and passes free's checks joins
  // it, and the stash drains: one medium free in 17 comes here.
  if (cls == kClsMedium && b.room == 0 && b.max != 0 && may_link(b, p)) {
    bin_link(b, p);
    return stash_drain(&t_cache);
  }
  dealloc_bin_full(p);
}

void thread_cache_flush(ThreadCache* tc) {
  if (tc->state != kCacheActive) return;  // nothing cached (a zeroed cache's links are no lists)
  stash_drain_pending(tc);
  return_bins(tc, tc->bins);
  tc->max_bytes[0] = tc->max_bytes[1] = 0;
}

void thread_cache_scavenge(ThreadCache* tc) {
  // A bin whose count has not moved since the last growth of the heap is idle
  // (a busy bin's count moves with every refill and overflow): half of it goes
  // down. Busy bins are left alone, so a heap that grows steadily does not keep
  // emptying the caches it is using.
  stash_drain_pending(tc);
  for (uint32_t bin = 1; bin < kNumBins; ++bin) {
    Bin& b = tc->bins[bin];
    uint32_t count = b.count();
    if (count > 1 && count == tc->seen[bin]) return_from_bin(tc, bin, count / 2);
    tc->seen[bin] = b.count();
  }
}

void* cache_refill(ThreadCache* tc, uint32_t bin) {
  Bin& b = tc->bins[bin];
  if (MM_UNLIKELY(any_parked())) {
    if (ParkedCache* pc = take_parked()) {
      adopt_parked(tc, pc);
      if (void* p = bin_take(b)) return p;
    }
  }
  uint32_t batch = class_info(bin).batch;
  int want = static_cast<int>(b.max < batch ? (b.max ? b.max : 1) : batch);
  void* head = nullptr;
  int got;
  if (is_small_class(bin)) {
    got = small_fetch(bin, &head, want);
  } else if (static_cast<uint32_t>(want) == batch && (head = medium_transfer_pop(bin, &got))) {
    // whole batches another thread freed, all cached
  } else {
    got = medium_alloc_batch(thread_heap(tc), bin_size(bin) + kChunkHeader, &head, want);
    for (void* p = head ? static_cast<void*>(next_of(head)) : nullptr; p; p = next_of(p))
      mark_cached(p);
  }
  // A transfer cache's chain may be longer than asked for (return_older, or a
  // medium bin handed down whole): the bin then holds more than its limit until
  // its next overflow.
  MM_ASSERT(got >= 0);
  if (got == 0) return nullptr;
  count_fetched(tc, bin, static_cast<uint64_t>(got));
  cache_token_slot(head) = 0;  // handed out now: no longer free (see bin_push)
  grow_max(tc, b, bin, false);
  b.link = *static_cast<uintptr_t*>(head);  // the rest of the chain
  b.add(static_cast<uint32_t>(got - 1));
  return head;
}

void cache_overflow(ThreadCache* tc, uint32_t bin, void* p) {
  Bin& b = tc->bins[bin];
  grow_max(tc, b, bin, true);
  // Full. A slab bin that holds two batches or more keeps its newest batch (half
  // its limit where that is less) and moves the rest down as one chain: walking
  // the batch that goes, at every batch of frees, took a fifth of threadtest's
  // time (docs/architecture.md). A medium bin for_transfer (a consumer's) goes
  // down whole, without walking links long out of the cache; its own heap's go
  // home a batch at a time (whole, phases grew 1%). Else the newest batch goes.
  const uint32_t batch = class_info(bin).batch, count = b.count();
  if (b.room <= 0 && is_small_class(bin) && count >= 2 * batch)
    return_older(tc, bin, b.max > batch ? batch : b.max / 2);
  else if (b.room <= 0 && !is_small_class(bin) && for_transfer(tc, bin, b.head(), count))
    return_from_bin(tc, bin, count);
  else if (b.room <= 0)
    return_from_bin(tc, bin, batch);
  if (b.room > 0) {
    bin_link(b, p);
    b.add(1);
    return;
  }
  next_of(p) = nullptr;  // no caching at all (budget 0)
  return_chain(tc, bin, p, 1);
}

namespace {
// A parked cache's objects go down a tier, and its struct back to the pool.
void return_parked(ParkedCache* pc) {
  return_bins(nullptr, pc->bins);
  free_parked(pc);
}
}  // namespace

void thread_cache_age_parked() {
  for (ParkedCache* pc = take_aged_parked(); pc;) {
    ParkedCache* next = pc->next;
    return_parked(pc);
    pc = next;
  }
}

void thread_cache_flush_parked() {
  while (ParkedCache* pc = take_parked()) return_parked(pc);
}

void thread_cache_locks(void (*op)(Lock&)) {
  op(g_tc_lock);
  op(parked_lock());
}

void thread_cache_fork_child() {
  // Only the forking thread exists in the child; the others' caches are gone.
  g_tc_head = nullptr;
  if (t_cache.state == kCacheActive) tc_register(&t_cache);
}

template <class F>
void thread_cache_for_each(F f) {
  LockGuard g(g_tc_lock);
  for (ThreadCache* tc = g_tc_head; tc; tc = tc->reg_next) f(tc);
}

void thread_cache_counts(ClassCounts* out) {
  for (uint32_t c = 0; c < kNumBins + 2; ++c)
    out[c] = {__atomic_load_n(&g_fetched[c], __ATOMIC_RELAXED),
              __atomic_load_n(&g_returned[c], __ATOMIC_RELAXED), 0};
  parked_counts(out);
  thread_cache_for_each([&](ThreadCache* tc) {
    for (uint32_t c = 0; c < kNumBins + 2; ++c) {
      out[c].fetched += __atomic_load_n(&tc->fetched[c], __ATOMIC_RELAXED);
      out[c].returned += __atomic_load_n(&tc->returned[c], __ATOMIC_RELAXED);
      if (c < kNumBins) out[c].cached += bin_count_racy(tc->bins[c]);
    }
  });
}

size_t thread_cache_bytes() {
  size_t total = parked_bytes();
  thread_cache_for_each([&](ThreadCache* tc) { total += bins_bytes(tc->bins); });
  return total;
}

}  // namespace mm
