#include "page_heap.h"

#include <errno.h>

#include "../common/assert.h"
#include "../os/os.h"

namespace mm {

namespace {
void* os_grow(void*, size_t bytes) { return os::grow(bytes); }
void os_purge(void*, void* p, size_t bytes) { os::purge(p, bytes); }
void os_populate(void*, void* p, size_t bytes) { os::populate(p, bytes); }
bool os_decommit(void*, void* p, size_t bytes) { return os::decommit(p, bytes); }
bool os_commit(void*, void* p, size_t bytes) { return os::commit(p, bytes); }
uint32_t os_now_ms(void*) { return os::now_ms(); }
bool os_limited(void*) { return os::data_limited(); }
constinit PageHeap g_page_heap(&g_pagemap, PageSource{os_grow, os_purge, os_populate, os_decommit,
                                                      os_commit, os_now_ms, os_limited, nullptr});
}  // namespace

PageHeap& page_heap() { return g_page_heap; }

Span* PageHeap::new_span(uintptr_t start, size_t npages, uint8_t owner) {
  Span* s = spans_.alloc();
  if (!s) return nullptr;
  s->start = start;
  s->npages = npages;
  s->set_owner(owner);
  return s;
}

size_t PageHeap::list_index(size_t npages) {
  if (npages <= kMaxExact) return npages;
  size_t lg = 63 - static_cast<size_t>(__builtin_clzll(npages));  // >= 7
  size_t sub = (npages >> (lg - 2)) & 3;
  size_t idx = kMaxExact + 1 + (lg - 7) * 4 + sub;
  return idx < kNumLists ? idx : kNumLists - 1;
}

void PageHeap::list_insert(Span* s) {
  // A listed span is free, and its first and last pages point at it: coalescing
  // finds neighbours through those two entries.
  MM_ASSERT(s->state == SpanState::kFree && s->npages > 0);
  MM_ASSERT(pm_->span(s->start) == s && pm_->span(s->end_page() - 1) == s);
  Span** head = list_for(s);
  s->prev = nullptr;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
  size_t i = list_index(s->npages);
  nonempty_[s->owner][i / 64] |= uint64_t{1} << (i % 64);
  free_pages_ += s->npages;
  if (!s->purged) committed_free_pages_ += s->npages;
  ++free_spans_;
}

void PageHeap::list_remove(Span* s) {
  MM_ASSERT(s->state == SpanState::kFree);
  MM_ASSERT(free_spans_ > 0 && free_pages_ >= s->npages);
  MM_ASSERT(s->purged || committed_free_pages_ >= s->npages);
  Span** head = list_for(s);
  if (s->prev)
    s->prev->next = s->next;
  else
    *head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = nullptr;
  if (!*head) {
    size_t i = list_index(s->npages);
    nonempty_[s->owner][i / 64] &= ~(uint64_t{1} << (i % 64));
  }
  free_pages_ -= s->npages;
  if (!s->purged) committed_free_pages_ -= s->npages;
  --free_spans_;
}

Span* PageHeap::find_best(size_t npages, uint8_t owner) {
  // The smallest non-empty list at or above npages' own, by a bitmap scan. Every
  // span of an exact list fits; in a ranged list, best fit with the lowest address
  // among equals (keeps the heap compact), and only the first one looked at can
  // hold spans that are too short.
  const uint64_t* nonempty = nonempty_[owner];
  Span* const* lists = lists_[owner];
  for (size_t i = list_index(npages); i < kNumLists;) {
    uint64_t word = nonempty[i / 64] >> (i % 64);
    if (!word) {
      i = (i / 64 + 1) * 64;
      continue;
    }
    i += static_cast<size_t>(__builtin_ctzll(word));
    if (i <= kMaxExact) return lists[i];
    Span* best = nullptr;
    int seen = 0;
    for (Span* s = lists[i]; s && seen < kLargeFitScan; s = s->next) {
      if (s->npages < npages) continue;
      ++seen;
      if (!best || s->npages < best->npages) best = s;
    }
    if (best) return best;
    ++i;
  }
  return nullptr;
}

void PageHeap::map(Span* a) {
  if (a->state == SpanState::kLarge) {
    pm_->set_class(a->start, a->npages, a->cls);
    pm_->set_ends(a->start, a->npages, a);
  } else {
    pm_->set_range(a->start, a->npages, a, a->cls);
  }
}

Span* PageHeap::carve(Span* s, size_t npages, SpanState st, uint8_t cls) {
  MM_ASSERT(s->npages >= npages && npages > 0);
  list_remove(s);
  Span* a = s;
  if (s->npages == npages) lru_unlink(s);
  if (s->npages > npages) {
    // The low pages are handed out; the remainder keeps its struct, its pagemap
    // entries and its place among the committed free spans, so only the npages
    // handed out are rewritten.
    a = new_span(s->start, npages, s->owner);
    if (!a) {
      list_insert(s);
      return nullptr;
    }
    a->purged = s->purged;
    a->decommitted = s->decommitted;
    s->start += npages;
    s->npages -= npages;
    pm_->set_ends(s->start, 1, s);  // an interior page until now: maybe stale
    list_insert(s);
  }
  if (a->decommitted && !commit_pages(a->start, a->npages)) {
    // The data limit refuses: undo the carve (the pages still map to s).
    if (a != s) {
      list_remove(s);
      s->start -= npages;
      s->npages += npages;
      spans_.free(a);
    }
    list_insert(s);
    if (!s->purged) lru_push(s);
    return nullptr;
  }
  a->state = st;
  a->cls = cls;
  a->next = a->prev = nullptr;
  map(a);
  note_peaks();
  return a;
}

Span* PageHeap::merge(Span* a, Span* b) {
  MM_ASSERT(a->end_page() == b->start);  // neighbours, a on the left
  // Either struct would do (only the ends are rewritten); the longer one's stays.
  Span* keep = a->npages >= b->npages ? a : b;
  Span* gone = keep == a ? b : a;
  keep->start = a->start;
  keep->npages = a->npages + b->npages;
  lru_unlink(gone);
  bool purged = a->purged && b->purged;
  uint32_t newer = static_cast<int32_t>(a->free_ms - b->free_ms) >= 0 ? a->free_ms : b->free_ms;
  keep->purged = purged;
  keep->decommitted = a->decommitted || b->decommitted;
  keep->free_ms = newer;
  if (purged)
    lru_unlink(keep);
  else
    lru_push(keep);                                // as new as its newest part
  pm_->set_ends(keep->start, keep->npages, keep);  // gone's pages: see map()
  spans_.free(gone);
  return keep;
}

void PageHeap::insert_coalesced(Span* s) {
  s->state = SpanState::kFree;
  s->free_ms = now_ms_;
  s->cls = kClsNone;
  s->purged = false;
  s->decommitted = false;
  lru_push(s);
  merge_neighbours(s, false);
}

bool PageHeap::grow(size_t npages) {
  // When the top span is free and the OS extends the heap contiguously, only the
  // shortfall is needed: the new pages merge with the top span.
  size_t have = 0;
  if (top_end_) {
    Span* top = pm_->span(top_end_ - 1);
    if (top && top->state == SpanState::kFree && top->end_page() == top_end_ && top->owner == 0)
      have = top->npages;
  }
  size_t need = npages > have ? npages - have : npages;
  // The step, or an eighth of the heap away from a data limit (kHeapGrowMaxPages).
  size_t step = grow_step_, eighth = total_pages_ / 8;
  if (eighth > step && !src_.limited(src_.ctx))
    step = eighth > kHeapGrowMaxPages ? kHeapGrowMaxPages : eighth;
  size_t want = need > step ? need : step;
  void* p = src_.grow(src_.ctx, want << kPageShift);
  if (!p && want > need) {
    want = need;  // near a limit: retry with exactly the need
    p = src_.grow(src_.ctx, want << kPageShift);
  }
  if (!p) return false;
  uintptr_t page = page_of(p);
  Span* s = pm_->ensure(page, want) ? new_span(page, want, 0) : nullptr;
  if (!s) return false;  // metadata exhausted: the pages stay unused but are not ours
  bool contiguous = page == top_end_;
  top_end_ = page + want;
  total_pages_ += want;
  pm_->set_range(page, want, s, kClsNone);
  insert_coalesced(s);  // contiguous growth merges with the top span here
  // Not contiguous after all (another sbrk user, or mmap): grow by the whole need.
  if (!contiguous && want < npages) return grow(npages);
  return true;
}

Span* PageHeap::alloc(size_t npages, SpanState st, uint8_t cls, uint8_t owner) {
  LockGuard g(lock_);
  Span* s = alloc_locked(npages, st, cls, owner);
  if (!s) errno = ENOMEM;
  return s;
}

Span* PageHeap::alloc_aligned(size_t npages, size_t align_pages, SpanState st, uint8_t cls) {
  if (align_pages <= 1) return alloc(npages, st, cls);
  LockGuard g(lock_);
  Span* s = alloc_locked(npages + align_pages - 1, st, cls);
  if (!s) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t front = align_up(s->start, align_pages) - s->start;
  if (front) {
    Span* head = new_span(s->start, front, s->owner);
    if (!head) {
      free_locked(s);
      errno = ENOMEM;
      return nullptr;
    }
    s->start += front;
    s->npages -= front;
    pm_->set_ends(s->start, s->npages, s);  // before head looks for its neighbours
    free_locked(head);
  }
  if (s->npages > npages) {
    Span* tail = new_span(s->start + npages, s->npages - npages, s->owner);
    if (tail) {
      s->npages = npages;
      pm_->set_ends(s->start, s->npages, s);
      free_locked(tail);
    }
  }
  return s;
}

void PageHeap::free_locked(Span* s, bool mapped) {
  // A large span's pages keep their class byte: it sends any free() of them to
  // the slow path, which checks the span's state (a double free is still caught),
  // and large-block churn rewrites a third fewer pagemap entries.
  if (mapped && s->cls != kClsLarge)
    pm_->set_class(s->start, s->npages, kClsNone);
  else if (!mapped)
    pm_->set_range(s->start, s->npages, s, kClsNone);
  freed_since_alloc_ += s->npages;
  insert_coalesced(s);
  // Past the threshold, free pages go at once, oldest first, down to half of it
  // (a heap that only frees keeps a quarter). While it also hands pages out
  // (churning: under four thresholds freed since; with one, a single free of a 20
  // MiB block counted as letting go) those freed last stay, and with over two
  // thresholds of large blocks in use 1.25x as many free pages stay, for decay:
  // else malloc_large's 5..25 MiB blocks that no kept span fitted came from fresh
  // pages (223k faults in 2000 steps, tcmalloc 179k; now 128k; 1x: large_churn 1.06 s, 0.90 now).
  size_t threshold = threshold_pages();
  bool churning = freed_since_alloc_ < 4 * threshold;
  size_t large = large_bytes_ ? __atomic_load_n(large_bytes_, __ATOMIC_RELAXED) >> kPageShift : 0;
  size_t limit = churning ? threshold : threshold / 4;
  if (churning && !limit_mode_ && large >= 2 * threshold) limit = large + large / 4;
  if (committed_free_pages_ > limit) purge_free(limit / 2, churning ? kPurgeGraceMs : 0);
}

void PageHeap::free(Span* s) {
  MM_ASSERT(s->state != SpanState::kFree);  // a span returned twice
  LockGuard g(lock_);
  decay_tick();
  free_locked(s, true);  // a span handed out: its pagemap entries point at it
}

size_t PageHeap::largest_fit(size_t max_pages) {
  LockGuard g(lock_);
  size_t longest = 0;
  for (uint8_t o = 0; o < kLocalityGroups; ++o) {
    for (size_t i = kNumLists; i-- > 1;) {  // the highest non-empty list holds the longest
      if (!(nonempty_[o][i / 64] & (uint64_t{1} << (i % 64)))) continue;
      for (Span* s = lists_[o][i]; s; s = s->next)
        if (s->npages > longest) longest = s->npages;
      break;
    }
  }
  return longest < max_pages ? longest : max_pages;
}

bool PageHeap::extend(Span* s, size_t new_npages, bool may_grow) {
  LockGuard g(lock_);
  MM_ASSERT(s->state != SpanState::kFree);
  if (new_npages <= s->npages) return true;
  decay_tick();
  freed_since_alloc_ = 0;
  size_t delta = new_npages - s->npages;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Span* right = pm_->span(s->end_page());
    bool right_free = right && right->state == SpanState::kFree && right->start == s->end_page();
    if (right_free && right->npages >= delta) {
      if (right->decommitted && !commit_pages(right->start, delta)) return false;
      list_remove(right);
      if (right->npages > delta) {
        right->start += delta;
        right->npages -= delta;
        pm_->set_ends(right->start, 1, right);
        list_insert(right);
      } else {
        lru_unlink(right);
        spans_.free(right);
      }
      s->npages = new_npages;
      if (s->state == SpanState::kLarge)
        map(s);  // its class bytes (a few hundred) and its new last page
      else
        pm_->set_range(s->end_page() - delta, delta, s, s->cls);
      note_peaks();
      return true;
    }
    // Only worth growing the heap when s (or the free span after it) is at the top:
    // contiguous growth then lands right behind it.
    if (attempt == 0 && may_grow) {
      size_t have = right_free ? right->npages : 0;
      if (s->end_page() + have != top_end_) return false;  // not at the top
      if (!grow(delta)) return false;                      // grow() counts the free top span itself
    }
  }
  return false;
}

void PageHeap::shrink(Span* s, size_t new_npages) {
  MM_ASSERT(new_npages > 0);
  if (new_npages >= s->npages) return;
  LockGuard g(lock_);
  Span* tail = new_span(s->start + new_npages, s->npages - new_npages, s->owner);
  if (!tail) return;  // keeping the pages is always correct
  s->npages = new_npages;
  pm_->set_ends(s->start, s->npages, s);
  free_locked(tail);
}

Span* PageHeap::cut(Span* s, uintptr_t from, uintptr_t to, bool* ok) {
  MM_ASSERT(s->state != SpanState::kFree && from < to);
  MM_ASSERT(from >= s->start && to <= s->end_page() && (from > s->start || to < s->end_page()));
  LockGuard g(lock_);
  decay_tick();
  *ok = false;
  Span* mid = new_span(from, to - from, s->owner);
  if (!mid) return s;
  Span* right = nullptr;
  if (from == s->start) {  // s becomes the right part; its pagemap entries stay
    __atomic_store_n(&s->start, to, __ATOMIC_RELAXED);  // see Span::base
    s->npages -= to - from;
    right = s;
  } else {
    if (to < s->end_page()) {
      right = new_span(to, s->end_page() - to, s->owner);
      if (!right) {
        spans_.free(mid);
        return s;
      }
      right->state = s->state;
      right->cls = s->cls;
      right->heap = s->heap;
      pm_->set_range(right->start, right->npages, right, right->cls);
    }
    s->npages = from - s->start;
  }
  mid->state = s->state;  // not free yet: free_locked makes it so
  free_locked(mid);
  *ok = true;
  return right;
}

}  // namespace mm
