// The page heap's allocation order across locality groups (page_heap.h,
// "Locality"): a group's own free spans, a block claimed from the pool, growth of
// the heap for such a block, and only then another group's pages.
#include "../common/assert.h"
#include "page_heap.h"

namespace mm {

Span* PageHeap::split_free(Span* c, size_t n) {
  MM_ASSERT(c->state == SpanState::kFree && n < c->npages);
  Span* rest = new_span(c->start + n, c->npages - n, c->owner);
  if (!rest) return nullptr;
  rest->state = SpanState::kFree;
  rest->cls = kClsNone;
  rest->purged = c->purged;
  rest->decommitted = c->decommitted;
  rest->free_ms = c->free_ms;
  c->npages = n;
  pm_->set_ends(c->start, c->npages, c);
  pm_->set_ends(rest->start, rest->npages, rest);
  list_insert(rest);
  if (c->in_lru) lru_insert_after(c, rest);
  return rest;
}

Span* PageHeap::claim_block(size_t npages, uint8_t owner) {
  // A block aligned to its size where the pool has room for one (a group then
  // shares no aligned 2 MiB with another), else the pool's best fit; its pages
  // before and after stay in the pool with the same age and state.
  size_t want = npages > kBlockPages ? npages : kBlockPages;
  Span* c = find_best(want + kBlockPages - 1, 0);
  size_t front = c ? align_up(c->start, kBlockPages) - c->start : 0;
  if (!c) c = find_best(want, 0);
  if (!c) return nullptr;
  list_remove(c);
  if (front) {
    Span* block = split_free(c, front);
    list_insert(c);  // the pages before it
    if (!block) return nullptr;
    list_remove(block);
    c = block;
  }
  if (c->npages > want) split_free(c, want);  // else (no metadata) the whole span
  c->set_owner(owner);
  list_insert(c);
  return c;
}

Span* PageHeap::find_locked(size_t npages, uint8_t owner, bool steal) {
  Span* s = find_best(npages, owner);
  if (!s && owner != 0) s = claim_block(npages, owner);
  for (uint8_t o = 0; !s && steal && o < kLocalityGroups; ++o)
    if (o != owner) s = find_best(npages, o);
  return s;
}

Span* PageHeap::alloc_locked(size_t npages, SpanState st, uint8_t cls, uint8_t owner) {
  decay_tick();
  freed_since_alloc_ = 0;
  if (limit_mode_ || owner >= kLocalityGroups) owner = 0;
  // Under a data limit (RLIMIT_DATA set, asked only when a group would claim) no
  // blocks: their address space counts against it, used or not.
  Span* s = find_best(npages, owner);
  if (!s && owner != 0 && src_.limited(src_.ctx)) owner = 0;
  // The pool takes from the groups before the heap grows; a group grows the heap
  // for a block of its own first.
  bool steal = owner == 0;
  if (!s) s = find_locked(npages, owner, steal);
  if (!s && merge_mixed()) s = find_locked(npages, owner, steal);
  if (!s) {
    // Room for an aligned block (claim_block).
    if (owner != 0 && grow((npages > kBlockPages ? npages : kBlockPages) + kBlockPages - 1))
      s = find_locked(npages, owner, false);
    if (!s) s = find_locked(npages, owner, true);
    if (!s) {
      if (!grow(npages)) return nullptr;
      s = find_locked(npages, owner, true);
      if (!s && merge_mixed()) s = find_locked(npages, owner, true);  // beside a purged top
      if (!s) return nullptr;
    }
  }
  return carve(s, npages, st, cls);
}

}  // namespace mm
