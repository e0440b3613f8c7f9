// The page heap: spans of whole pages. Best fit over free spans by length, split on
// allocation, coalescing with both neighbours on free, growth from the os layer that
// extends the top span when the new memory is contiguous, and purging of free pages
// to the OS: at once past a threshold, and by decay (free and unused for a while).
//
// Locality: free spans belong to a locality group (Span::owner), 0 the common
// pool. A thread's slabs and medium regions are asked for in its group (its
// transfer-cache shard; the main thread's is 0): a group takes its own free spans
// first, then claims a block of kLocalityBlock bytes from the pool (growing the
// heap for it if need be), and only then another group's pages. Free spans merge
// only within their group, and pages purged go back to the pool. So two threads'
// memory does not alternate in pieces of a few pages, which on some machines
// makes each thread's writes twice as slow (tuning.h); a program with one thread
// uses group 0 only and claims nothing. Under a data limit nothing is claimed.
#pragma once
#include "../common/common.h"
#include "../common/lock.h"
#include "../common/tuning.h"
#include "../meta/meta.h"
#include "pagemap.h"
#include "span.h"

namespace mm {

// Where pages come from. The real one is the os layer; unit tests pass a fake.
struct PageSource {
  void* (*grow)(void* ctx, size_t bytes);              // kPageSize-aligned, or nullptr
  void (*purge)(void* ctx, void* p, size_t bytes);     // give pages to the OS
  void (*populate)(void* ctx, void* p, size_t bytes);  // map them now: os::populate
  // Under a data limit: give pages and their RLIMIT_DATA charge back (the range
  // stays readable); false if it could not. commit makes such a range writable
  // again; false when the limit refuses.
  bool (*decommit)(void* ctx, void* p, size_t bytes);
  bool (*commit)(void* ctx, void* p, size_t bytes);
  uint32_t (*now_ms)(void* ctx);  // a coarse monotonic clock
  bool (*limited)(void* ctx);     // under a data limit (RLIMIT_DATA) now
  void* ctx;
};

struct PageHeapStats {
  size_t total_pages;   // ever obtained from the source
  size_t free_pages;    // in free spans (committed or purged)
  size_t purged_pages;  // free pages given back to the OS
  size_t free_spans;
  size_t peak_committed_pages;  // most pages obtained and not given back at once
  size_t peak_active_pages;     // most pages handed out (slabs, regions, large) at once
};

// Methods are defined in page_heap.cc, and those of purging (the committed-span
// list, decay, decommitting) in page_purge.cc.
class PageHeap {
 public:
  static constexpr size_t kMaxExact = 128;  // free lists by exact length up to here
  // Longer spans: four lists per power of two, best fit within a list.
  static constexpr size_t kNumLists = kMaxExact + 1 + 4 * 30;

  constexpr PageHeap(Pagemap* pm, PageSource src) : pm_(pm), src_(src) {}

  // A span of exactly npages marked with state and class, or nullptr (errno ENOMEM)
  // when the source cannot grow.
  Span* alloc(size_t npages, SpanState st, uint8_t cls, uint8_t owner = 0);
  // Same, with the first page a multiple of align_pages (a power of two).
  Span* alloc_aligned(size_t npages, size_t align_pages, SpanState st, uint8_t cls);
  // Returns a span; it coalesces with free neighbours.
  void free(Span* s);
  // Grows s in place to new_npages, taking the free span on its right (growing the
  // heap when s ends at the top and may_grow). False if the neighbour is not free
  // or too small.
  bool extend(Span* s, size_t new_npages, bool may_grow = true);
  // The length of the longest free span, at most max_pages (0 when none is free):
  // what can be had now without growing the heap.
  size_t largest_fit(size_t max_pages);
  // Shrinks s in place; the tail goes back to the free lists.
  void shrink(Span* s, size_t new_npages);
  // Frees pages [from, to) from the middle or either end of s (not all of it): s
  // keeps the pages left of them, or, when there are none, those right of them;
  // the pages right of them otherwise go to a new span of the same state, class
  // and heap. Returns the span that holds the right part (s itself, the new one,
  // or nullptr when there is no right part), or s unchanged and false in *ok when
  // metadata runs out.
  Span* cut(Span* s, uintptr_t from, uintptr_t to, bool* ok);
  // Gives free committed pages back to the OS until at most keep_pages remain.
  // Spans free for less than min_age_ms (page heap clock) stay.
  void purge_free(size_t keep_pages, uint32_t min_age_ms = 0);
  // Down to a quarter of the threshold, whatever the age (a thread that exits: what
  // it freed will not be allocated again by it). 64 threads that exit in turn kept
  // 11-23 MiB with "past the threshold, down to half", 12-18 with this. Takes the
  // lock.
  void purge_excess() {
    LockGuard g(lock_);
    purge_free(threshold_pages() / 4);
  }
  // Purges the committed free spans that have been free for the decay time or
  // longer. Needs lock(); the callers decide how often (decay_tick, decay_if_due).
  void purge_decayed();

  void set_decay_ms(uint32_t ms) { decay_ms_ = ms; }
  // A data limit is in play (an allocation failed under RLIMIT_DATA): purged pages
  // are decommitted from then on, so that other mappings (thread stacks) can have
  // the budget they were charged.
  void set_limit_mode() {
    LockGuard g(lock_);
    __atomic_store_n(&limit_mode_, true, __ATOMIC_RELAXED);  // medium heaps read it unlocked
  }

  // Gives the pages of [p, p + bytes) to the OS; they read as zero afterwards. For
  // a tier's own free memory (free chunks inside medium regions). No lock.
  void purge_range(void* p, size_t bytes) { src_.purge(src_.ctx, p, bytes); }
  void populate_range(void* p, size_t bytes) { src_.populate(src_.ctx, p, bytes); }
  uint32_t now_ms() { return src_.now_ms(src_.ctx); }
  uint32_t decay_ms() const { return decay_ms_; }
  size_t purge_threshold_bytes() const { return threshold_pages() << kPageShift; }

  void set_grow_step(size_t pages) { grow_step_ = pages ? pages : 1; }
  // Relaxed atomics: mallopt(M_TRIM_THRESHOLD) may set it while other threads read it.
  void set_purge_threshold(size_t pages) {
    __atomic_store_n(&purge_threshold_, pages, __ATOMIC_RELAXED);
  }
  // Bytes of large blocks in use (the large tier's count, read relaxed): a
  // churning heap keeps 1.25x as many free pages as that (free_locked).
  void set_large_bytes_source(const size_t* bytes) { large_bytes_ = bytes; }
  PageHeapStats stats();
  Lock& lock() { return lock_; }
  Pagemap* pagemap() const { return pm_; }

 private:
  static constexpr size_t kBlockPages = kLocalityBlock >> kPageShift;
  static size_t list_index(size_t npages);
  Span** list_for(const Span* s) { return &lists_[s->owner][list_index(s->npages)]; }
  // Free neighbours that may merge: adjacent, free, in one locality group.
  bool joins(const Span* left, const Span* right) const {
    return left && right && left->state == SpanState::kFree && right->state == SpanState::kFree &&
           left->end_page() == right->start && left->owner == right->owner;
  }
  void purge_span(Span* s);
  // The committed free spans, oldest first: purging takes the oldest, which a
  // churning program is least likely to reuse next.
  void lru_push(Span* s);
  void lru_unlink(Span* s);
  void lru_insert_after(Span* pos, Span* s);
  void decay_tick();
  void list_insert(Span* s);
  void list_remove(Span* s);
  Span* find_best(size_t npages, uint8_t owner);
  // owner's own free span, else a block claimed for it from the pool, else (steal)
  // any other group's span.
  Span* find_locked(size_t npages, uint8_t owner, bool steal);
  Span* claim_block(size_t npages, uint8_t owner);
  // c is free and unlisted: its first n pages stay in it, the rest go to a new
  // free span of the same group, state and age, listed; nullptr (c unchanged)
  // when metadata runs out.
  Span* split_free(Span* c, size_t n);
  Span* carve(Span* s, size_t npages, SpanState st, uint8_t cls);
  bool grow(size_t npages);
  // a immediately left of b, both free and unlisted; the result is purged only if
  // both were, and as new as the newer.
  Span* merge(Span* a, Span* b);
  void insert_coalesced(Span* s);
  // Merges s (free, unlisted) with free neighbours of the same kind and lists it.
  void merge_neighbours(Span* s, bool purged);
  // Before growing: merges committed free spans with purged free neighbours.
  bool merge_mixed();
  Span* alloc_locked(size_t npages, SpanState st, uint8_t cls, uint8_t owner = 0);
  // a's pagemap entries. Every span's first and last pages point at it (coalescing
  // finds neighbours through them, free() a large block through its first); every
  // page of a slab or a medium region does (their objects and chunks lie
  // anywhere); every page of a span in use has its class byte. The other pages of
  // a large block or a free span may point at a span that has gone: free() of
  // such a pointer still aborts, as check_large wants a large span starting
  // there. Large-block churn no longer writes a pointer for each page.
  void map(Span* a);
  void free_locked(Span* s, bool mapped = false);  // mapped: s's entries point at s
  Span* new_span(uintptr_t start, size_t npages, uint8_t owner);

  Pagemap* pm_;
  PageSource src_;
  Lock lock_{LockRank::kPageHeap};
  MetaPool<Span> spans_;
  Span* lists_[kLocalityGroups][kNumLists] = {};
  uint64_t nonempty_[kLocalityGroups][(kNumLists + 63) / 64] = {};
  uint32_t decay_ms_ = 1000;      // MYMALLOC_DECAY_MS
  uint32_t last_decay_ms_ = 0;    // clock at the last decay pass
  uint32_t now_ms_ = 0;           // clock at the last operation
  size_t freed_since_alloc_ = 0;  // pages: is the heap churning, or only freeing?
  bool limit_mode_ = false;
  const size_t* large_bytes_ = nullptr;
  // Under a data limit a quarter: free pages there cost other mappings their budget.
  size_t threshold_pages() const {
    size_t t = __atomic_load_n(&purge_threshold_, __ATOMIC_RELAXED);
    return __atomic_load_n(&limit_mode_, __ATOMIC_RELAXED) ? t / 4 : t;
  }
  bool commit_pages(uintptr_t page, size_t n);  // of a decommitted span, before use
  Span* lru_head_ = nullptr;                    // oldest committed free span
  Span* lru_tail_ = nullptr;                    // newest
  size_t grow_step_ = kHeapGrowPages;
  size_t purge_threshold_ = 2048;  // pages; the process sets MYMALLOC_RELEASE_THRESHOLD
  size_t total_pages_ = 0;
  uintptr_t top_end_ = 0;  // page after the last growth from the source
  size_t free_pages_ = 0;
  size_t committed_free_pages_ = 0;
  size_t free_spans_ = 0;
  size_t peak_committed_pages_ = 0;
  size_t peak_active_pages_ = 0;
  // After pages are handed out (carve, extend): the statistics' peaks.
  void note_peaks() {
    size_t committed = total_pages_ - (free_pages_ - committed_free_pages_);
    size_t active = total_pages_ - free_pages_;
    if (committed > peak_committed_pages_) peak_committed_pages_ = committed;
    if (active > peak_active_pages_) peak_active_pages_ = active;
  }
};

PageHeap& page_heap();

}  // namespace mm
