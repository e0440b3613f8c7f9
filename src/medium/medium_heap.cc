#include "medium_heap.h"

#include "../common/assert.h"

namespace mm {

void MediumHeap::init(PageHeap* ph) {
  ph_ = ph;
  span_list_init(&regions_head_);
}

size_t MediumHeap::free_bin_of(size_t csize) {
  if (csize <= 1024) return csize >> 4;  // exact bins 2..64
  size_t lg = 63 - static_cast<size_t>(__builtin_clzll(csize));
  size_t sub = (csize >> (lg - 2)) & 3;  // four bins per power of two
  size_t idx = 65 + (lg - 10) * 4 + sub;
  return idx < kNumFreeBins ? idx : kNumFreeBins - 1;
}

void MediumHeap::bin_insert(FreeChunk* f, size_t size) {
  // Boundary tags agree and a binned chunk has no free neighbour: it was merged.
  MM_ASSERT(f->hdr.valid_free() && f->hdr.size() == size && size >= kMinChunk && size % 16 == 0);
  MM_ASSERT(f->hdr.next()->prev_size == f->hdr.size());
  MM_ASSERT(f->hdr.next()->in_use());
  MM_ASSERT(f->hdr.prev_size == 0 || f->hdr.prev()->in_use());
  size_t b = free_bin_of(size);
  f->set_prev(nullptr);
  f->set_next(bins_[b]);
  if (bins_[b]) bins_[b]->set_prev(f);
  bins_[b] = f;
  bitmap_[b / 64] |= uint64_t{1} << (b % 64);
}

void MediumHeap::bin_remove(FreeChunk* f) {
  MM_ASSERT(f->hdr.valid_free());
  size_t b = free_bin_of(f->hdr.size());
  MM_ASSERT(bitmap_[b / 64] & (uint64_t{1} << (b % 64)));
  // Safe unlinking: both neighbours must point back at f (a forged link that
  // happened to decode aligned still stops here, before anything is written).
  FreeChunk* next = f->next();
  FreeChunk* prev = f->prev();
  if (MM_UNLIKELY((next && next->prev() != f) || (prev ? prev->next() : bins_[b]) != f))
    fatal("malloc", "corrupted free list (medium) at", f->hdr.payload());
  if (prev)
    prev->set_next(next);
  else
    bins_[b] = next;
  if (next) next->set_prev(prev);
  if (!bins_[b]) bitmap_[b / 64] &= ~(uint64_t{1} << (b % 64));
}

FreeChunk* MediumHeap::find_fit(size_t csize) {
  size_t b = free_bin_of(csize);
  if (b > 64) {
    // A ranged bin holds sizes on both sides of csize: best fit over a bounded scan.
    FreeChunk* best = nullptr;
    int scanned = 0;
    for (FreeChunk* f = bins_[b]; f && scanned < kFitScan; f = f->next(), ++scanned) {
      size_t s = f->hdr.size();
      if (s >= csize && (!best || s < best->hdr.size())) {
        best = f;
        if (s == csize) break;
      }
    }
    if (best) return best;
  } else if (bins_[b]) {
    return bins_[b];
  }
  // Every chunk in a higher non-empty bin fits; the lowest such bin fits best.
  for (size_t i = b + 1; i < kNumFreeBins;) {
    uint64_t word = bitmap_[i / 64] >> (i % 64);
    if (word) return bins_[i + static_cast<size_t>(__builtin_ctzll(word))];
    i = (i / 64 + 1) * 64;
  }
  return nullptr;
}

void* MediumHeap::alloc(size_t csize) {
  void* p = nullptr;
  return alloc_run(csize, 1, &p) ? p : nullptr;
}

void MediumHeap::check_tags(Chunk* c, const char* func) {
  // A chunk's size must lead to a medium page (so that the tag read there is
  // mapped) holding a chunk that records it as its
  // left neighbour's size, and its prev_size to one whose size it is: a boundary
  // tag forged through an overflow or a use after free is refused before a merge
  // or a split writes through it into a live neighbour.
  size_t size = c->size();
  Pagemap* pm = ph_->pagemap();
  // c's own page is a medium one (its caller found it so): a neighbour on the
  // same page needs no lookup, which spares most chunks of a few hundred bytes.
  auto medium = [pm, c](const void* q) {
    return page_of(q) == page_of(c) || pm->cls(page_of(q)) == kClsMedium;
  };
  Chunk* n = reinterpret_cast<Chunk*>(reinterpret_cast<char*>(c) + size);
  bool ok = size >= kChunkHeader && size % 16 == 0 && medium(n) && n->prev_size == size;
  if (ok && c->prev_size != 0) {
    Chunk* p = c->prev();
    ok = c->prev_size % 16 == 0 && medium(p) && p->size() == c->prev_size;
  }
  if (MM_UNLIKELY(!ok)) fatal(func, "corrupted chunk header of", c->payload());
}

Chunk* MediumHeap::coalesce(Chunk* c) {
  // c is free and in no bin, its tags checked. Merge with free neighbours on both
  // sides (a free right neighbour's own tags are checked before it is merged).
  size_t size = c->size();
  MM_ASSERT(c->next()->prev_size == size);
  MM_ASSERT(c->prev_size == 0 || c->prev()->size() == c->prev_size);
  if (c->prev_size != 0) {
    Chunk* p = c->prev();
    if (!p->in_use()) {
      bin_remove(reinterpret_cast<FreeChunk*>(p));
      size += p->size();
      c = p;
    }
  }
  Chunk* n = reinterpret_cast<Chunk*>(reinterpret_cast<char*>(c) + size);
  if (!n->in_use()) {
    check_tags(n, "free");
    bin_remove(reinterpret_cast<FreeChunk*>(n));
    size += n->size();
  }
  c->set_free(size);
  c->next()->prev_size = size;
  return c;
}

void MediumHeap::free_chunk(Chunk* c) {
  if (MM_UNLIKELY((++frees_ & 255) == 0)) purge_free_chunks(Purge::kDecayed);
  // Past the purge threshold with no allocation in between, as the page heap does.
  freed_since_alloc_ += c->size();
  if (MM_UNLIKELY(freed_since_alloc_ > ph_->purge_threshold_bytes())) {
    freed_since_alloc_ = 0;
    purge_free_chunks(Purge::kBig);
  }
  // Chunks of grid pages come here unread since malloc handed them out (free()
  // took them as slab objects): a forged header is refused here.
  if (MM_UNLIKELY(!c->valid_used()))
    fatal("free", "corrupted chunk header (or invalid pointer) of", c->payload());
  check_tags(c, "free");
  MM_ASSERT(used_bytes_ >= c->size());
  if (!to_spare(c)) free_checked(c);
}

void MediumHeap::free_checked(Chunk* c) {
  used_bytes_ -= c->size();
  c->set_free(c->size());
  c = coalesce(c);
  if (c->prev_size == 0 && c->next()->sentinel()) {
    Span* r = ph_->pagemap()->span_of(c);
    if (r != top_region_) {
      return_region(r);
      return;
    }
    // The top region stays for the next allocation, cut down to kRegionMin.
  }
  bin_or_return_pages(c);
}

void MediumHeap::bin_or_return_pages(Chunk* c) {
  auto a = reinterpret_cast<uintptr_t>(c);
  uintptr_t b = a + c->size();  // the next chunk's header
  if (c->size() < kRegionReturnMin + kPageSize) {
    bin_insert(reinterpret_cast<FreeChunk*>(c));
    return;
  }
  Span* r = ph_->pagemap()->span_of(c);
  uintptr_t base = reinterpret_cast<uintptr_t>(r->base());
  uintptr_t end = base + r->bytes();
  bool last = b == end - kChunkHeader;
  // A wholly free region (the top) keeps its first kRegionMin bytes.
  bool first = a == base && !last;
  // The left part keeps a free remainder (none, or at least kMinChunk) and a new
  // sentinel before the cut; the right part starts with a free remainder (none,
  // or at least kMinChunk) whose prev_size is 0, or with the next chunk itself.
  uintptr_t lo = first ? base : align_up(a + (a == base ? kRegionMin : kChunkHeader), kPageSize);
  if (!first && lo - kChunkHeader - a != 0 && lo - kChunkHeader - a < kMinChunk) lo += kPageSize;
  uintptr_t hi = last ? end : b & ~(kPageSize - 1);
  if (!last && b - hi != 0 && b - hi < kMinChunk) hi -= kPageSize;
  if (hi <= lo || hi - lo < kRegionReturnMin) {
    bin_insert(reinterpret_cast<FreeChunk*>(c));
    return;
  }
  size_t prev = c->prev_size;
  bool ok;
  Span* right =
      ph_->cut(r, page_of(reinterpret_cast<void*>(lo)), page_of(reinterpret_cast<void*>(hi)), &ok);
  if (!ok) {
    bin_insert(reinterpret_cast<FreeChunk*>(c));  // no metadata: keep the pages
    return;
  }
  region_bytes_ -= hi - lo;
  if (!first) {
    auto* sentinel = reinterpret_cast<Chunk*>(lo - kChunkHeader);
    size_t rest = lo - kChunkHeader - a;
    if (rest) {
      c->set_free(rest);
      sentinel->prev_size = rest;
    } else {
      sentinel->prev_size = prev;  // the sentinel took c's place
    }
    sentinel->set_sentinel();
    if (rest) bin_insert(reinterpret_cast<FreeChunk*>(c));
  }
  if (!last) {
    auto* head = reinterpret_cast<Chunk*>(hi);
    if (b > hi) {
      head->prev_size = 0;
      head->set_free(b - hi);
      reinterpret_cast<Chunk*>(b)->prev_size = b - hi;
      bin_insert(reinterpret_cast<FreeChunk*>(head));
    } else {
      head->prev_size = 0;  // the next chunk now opens its region
    }
  }
  if (right && right != r) {
    span_list_push(&regions_head_, right);
    ++regions_;
    if (r == top_region_) top_region_ = right;  // the top keeps the highest pages
  }
}

void MediumHeap::return_region(Span* r) {
  MM_ASSERT(r->heap == this && regions_ > 0 && region_bytes_ >= r->bytes());
  span_list_remove(r);
  region_bytes_ -= r->bytes();
  --regions_;
  if (r == top_region_) top_region_ = nullptr;
  r->heap = nullptr;
  ph_->free(r);
}

bool MediumHeap::resize_in_place(Chunk* c, size_t new_csize) {
  MM_ASSERT(c->valid_used());
  size_t cur = c->size();
  if (new_csize <= cur) {
    // Keep slack under half the chunk (resize_is_noop): realloc growth leaves room, and
    // a string grown in small steps should use it, not lose it to the next call.
    if (!resize_is_noop(c, new_csize)) {
      ungrid(c, cur);
      // Shrink: the tail becomes a free chunk and merges with a free right neighbour.
      c->set_used(new_csize);
      used_bytes_ -= cur - new_csize;
      bin_or_return_pages(coalesce(&split_tail(c, new_csize, cur)->hdr));
    }
    return true;
  }
  Chunk* n = c->next();
  if (n->in_use() || cur + n->size() < new_csize) return false;
  // Grow into the free right neighbour, splitting off what is not needed. Like a
  // move, growth takes half its size more room where the neighbour has it
  // (kReallocHeadroomDiv), so that a string grown by small appends comes back
  // here O(log n) times, not O(n).
  ungrid(c, cur);
  bin_remove(reinterpret_cast<FreeChunk*>(n));
  size_t total = cur + n->size();
  // A neighbour shorter than that gives what it has: taking the exact size
  // brought the next append straight back here.
  size_t want = align_up(cur + cur / kReallocHeadroomDiv, 16);
  if (want > total) want = total;
  if (want < new_csize) want = new_csize;
  size_t keep = total - want >= kMinChunk ? want : total;
  c->set_used(keep);
  used_bytes_ += keep - cur;
  if (keep < total)
    bin_insert(split_tail(c, keep, total), total - keep);
  else
    c->next()->prev_size = keep;
  return true;
}

bool MediumHeap::grow(size_t csize) {
  // Cheapest first: free pages right after the top region; then free pages
  // anywhere in the page heap (a new region); only then new memory from the OS,
  // behind the top region if it is at the top of the heap, so it stays one region.
  // A free span shorter than a whole new region still serves as a smaller one:
  // pages that split regions gave back are used before the heap grows.
  if (top_region_ && extend_region(top_region_, csize, false)) return true;
  size_t have = ph_->largest_fit(region_pages(csize));
  if (have >= pages_for(csize + kChunkHeader)) return new_region(csize, have);
  if (top_region_ && extend_region(top_region_, csize, true)) return true;
  return new_region(csize, region_pages(csize));
}

size_t MediumHeap::region_pages(size_t csize) {
  size_t want = csize + kChunkHeader;
  return pages_for(want > kRegionMin ? want : kRegionMin);
}

bool MediumHeap::extend_region(Span* r, size_t csize, bool may_grow) {
  // Like glibc's top chunk: grow the newest region into the pages right after it,
  // so a heap that grows steadily stays one region and its free tail merges.
  auto* sentinel = reinterpret_cast<Chunk*>(r->base() + r->bytes() - kChunkHeader);
  size_t tail_free = 0;
  if (sentinel->prev_size != 0) {
    Chunk* last = sentinel->prev();
    if (!last->in_use()) tail_free = last->size();
  }
  size_t need = csize > tail_free ? csize - tail_free : 0;
  size_t add_pages = pages_for(need > kRegionGrowMin ? need : kRegionGrowMin);
  size_t old_bytes = r->bytes();
  if (old_bytes + (add_pages << kPageShift) > kRegionMax) return false;  // a new region
  if (!ph_->extend(r, r->npages + add_pages, may_grow)) {
    add_pages = pages_for(need ? need : 1);  // near a limit: exactly the need
    if (!ph_->extend(r, r->npages + add_pages, may_grow)) return false;
  }
  size_t added = r->bytes() - old_bytes;
  region_bytes_ += added;
  ph_->populate_range(reinterpret_cast<void*>(r->base() + old_bytes), added);  // carved next
  // The old sentinel becomes the header of the new free space.
  Chunk* fresh = sentinel;
  fresh->set_free(added);
  auto* new_sentinel = reinterpret_cast<Chunk*>(r->base() + r->bytes() - kChunkHeader);
  new_sentinel->prev_size = added;
  new_sentinel->set_sentinel();
  bin_insert(reinterpret_cast<FreeChunk*>(coalesce(fresh)));
  return true;
}

bool MediumHeap::new_region(size_t csize, size_t pages) {
  size_t want = csize + kChunkHeader;
  uint8_t group = __atomic_load_n(&group_, __ATOMIC_RELAXED);
  Span* r = ph_->alloc(pages, SpanState::kMedium, kClsMedium, group);
  if (!r && pages > pages_for(want))
    r = ph_->alloc(pages_for(want), SpanState::kMedium, kClsMedium, group);
  if (!r) return false;
  r->heap = this;
  span_list_push(&regions_head_, r);
  region_bytes_ += r->bytes();
  ++regions_;
  auto* first = reinterpret_cast<Chunk*>(r->base());
  size_t body = r->bytes() - kChunkHeader;
  // Carved next: a heap's first region as far as an extension adds, later ones whole.
  size_t ahead = want > kRegionGrowMin ? want : kRegionGrowMin;
  ph_->populate_range(first, regions_ > 1 || ahead > r->bytes() ? r->bytes() : ahead);
  first->prev_size = 0;
  first->set_free(body);
  auto* sentinel = reinterpret_cast<Chunk*>(r->base() + body);
  sentinel->prev_size = body;
  sentinel->set_sentinel();
  bin_insert(reinterpret_cast<FreeChunk*>(first));
  // The previous top region, if wholly free, no longer has a reason to stay.
  Span* old = top_region_;
  top_region_ = r;
  if (old) return_if_free(old);
  return true;
}

void MediumHeap::return_if_free(Span* r) {
  auto* c = reinterpret_cast<Chunk*>(r->base());
  if (!c->in_use() && c->next()->sentinel()) {
    bin_remove(reinterpret_cast<FreeChunk*>(c));
    return_region(r);
  }
}

bool MediumHeap::remote_push(Chunk* c) {
  void* p = c->payload();
  void* old = __atomic_load_n(&remote_, __ATOMIC_RELAXED);
  do {
    next_of(p) = old;
  } while (
      !__atomic_compare_exchange_n(&remote_, &old, p, true, __ATOMIC_RELEASE, __ATOMIC_RELAXED));
  // Push-only with a take-all consumer (exchange), so there is no ABA to guard.
  return __atomic_add_fetch(&remote_count_, 1, __ATOMIC_RELAXED) >= kRemoteDrainAt;
}

void MediumHeap::drain_remote() {
  void* p = __atomic_exchange_n(&remote_, nullptr, __ATOMIC_ACQUIRE);
  __atomic_store_n(&remote_count_, 0, __ATOMIC_RELAXED);
  while (p) {
    void* next = next_of(p);
    free_chunk(Chunk::of(p));
    p = next;
  }
}

}  // namespace mm
