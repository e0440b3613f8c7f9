// The page heap's purging: committed free spans in the order they were freed,
// purged oldest first past the threshold and by decay; decommitting under a data
// limit; joining committed and purged neighbours before the heap grows; the
// statistics, which count committed pages. See
// docs/architecture.md, "Memory over time".
#include "../common/assert.h"
#include "../common/tuning.h"
#include "page_heap.h"

namespace mm {

void PageHeap::merge_neighbours(Span* s, bool purged) {
  // Committed spans merge with committed neighbours, purged with purged ones (as
  // jemalloc keeps dirty and muzzy extents apart): a merged span is purged whole,
  // and madvising pages purged already cost large-block churn 12% of its time.
  // merge_mixed joins the two kinds when an allocation would otherwise grow.
  // Spans of different locality groups stay apart.
  Span* left = pm_->span(s->start - 1);
  if (joins(left, s) && left->purged == purged) {
    list_remove(left);
    s = merge(left, s);
  }
  Span* right = pm_->span(s->end_page());
  if (joins(s, right) && right->purged == purged) {
    list_remove(right);
    s = merge(s, right);
  }
  list_insert(s);
}

bool PageHeap::merge_mixed() {
  bool merged = false;
  for (Span* s = lru_head_; s;) {
    Span* next = s->lru_next;  // s may move to the end of the list: visited again, harmless
    Span* left = pm_->span(s->start - 1);
    Span* right = pm_->span(s->end_page());
    bool l = joins(left, s);
    bool r = joins(s, right);
    if (l || r) {  // purged neighbours (committed ones merged already)
      list_remove(s);
      if (l) {
        list_remove(left);
        s = merge(left, s);  // committed, as new as s
      }
      if (r) {
        list_remove(right);
        s = merge(s, right);
      }
      list_insert(s);
      merged = true;
    }
    s = next;
  }
  return merged;
}

void PageHeap::lru_push(Span* s) {
  lru_unlink(s);
  s->lru_prev = lru_tail_;
  s->lru_next = nullptr;
  if (lru_tail_)
    lru_tail_->lru_next = s;
  else
    lru_head_ = s;
  lru_tail_ = s;
  s->in_lru = true;
}

void PageHeap::lru_insert_after(Span* pos, Span* s) {
  MM_ASSERT(pos->in_lru && !s->in_lru);
  s->lru_prev = pos;
  s->lru_next = pos->lru_next;
  if (pos->lru_next)
    pos->lru_next->lru_prev = s;
  else
    lru_tail_ = s;
  pos->lru_next = s;
  s->in_lru = true;
}

void PageHeap::lru_unlink(Span* s) {
  if (!s->in_lru) return;
  if (s->lru_prev)
    s->lru_prev->lru_next = s->lru_next;
  else
    lru_head_ = s->lru_next;
  if (s->lru_next)
    s->lru_next->lru_prev = s->lru_prev;
  else
    lru_tail_ = s->lru_prev;
  s->lru_next = s->lru_prev = nullptr;
  s->in_lru = false;
}

void PageHeap::decay_tick() {
  now_ms_ = src_.now_ms(src_.ctx);
  if (committed_free_pages_ != 0 && now_ms_ - last_decay_ms_ >= decay_ms_ / 4) purge_decayed();
}

void PageHeap::purge_decayed() {
  now_ms_ = src_.now_ms(src_.ctx);
  last_decay_ms_ = now_ms_;
  // Oldest first; a span merged later counts as new as its newest part, so the
  // walk stops at the first span that is not yet due.
  while (lru_head_ && now_ms_ - lru_head_->free_ms >= decay_ms_) purge_span(lru_head_);
}

bool PageHeap::commit_pages(uintptr_t page, size_t n) {
  return src_.commit(src_.ctx, page_addr(page), n << kPageShift);
}

void PageHeap::purge_span(Span* s) {
  MM_ASSERT(s->state == SpanState::kFree && !s->purged && s->in_lru);
  if (limit_mode_ && src_.decommit(src_.ctx, s->base(), s->bytes()))
    s->decommitted = true;
  else
    src_.purge(src_.ctx, s->base(), s->bytes());
  list_remove(s);
  lru_unlink(s);
  s->purged = true;
  s->set_owner(0);  // pages unused that long go back to the pool (page_heap.h, "Locality")
  merge_neighbours(s, true);
}

void PageHeap::purge_free(size_t keep_pages, uint32_t min_age_ms) {
  // Oldest first: a program reuses what it freed last. The list is in the order
  // spans were freed (a merged span counts as new as its newest part), so the
  // walk stops at the first that is too young.
  while (lru_head_ && committed_free_pages_ > keep_pages &&
         now_ms_ - lru_head_->free_ms >= min_age_ms)
    purge_span(lru_head_);
}

PageHeapStats PageHeap::stats() {
  LockGuard g(lock_);
  return PageHeapStats{total_pages_, free_pages_,           free_pages_ - committed_free_pages_,
                       free_spans_,  peak_committed_pages_, peak_active_pages_};
}

}  // namespace mm
