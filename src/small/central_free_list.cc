#include "central_free_list.h"

#include "../common/assert.h"

namespace mm {

constexpr bool slabs_fit_bitmap() {
  for (uint32_t c = 1; c <= kNumSmallClasses; ++c)
    if (class_info(c).objects > kMaxSlabObjects) return false;
  return true;
}
static_assert(slabs_fit_bitmap(), "every slab's objects must fit a span's free bitmap");

void CentralFreeList::init(uint32_t cls, PageHeap* ph) {
  cls_ = cls;
  size_ = class_info(cls).size;
  recip_ = ((uint64_t{1} << 32) + size_ - 1) / size_;
  ph_ = ph;
  for (Span& head : nonempty_) span_list_init(&head);
}

void slab_layout(Span* s, uint32_t size) {
  auto lo = reinterpret_cast<uintptr_t>(s->base());
  uintptr_t hi = lo + s->bytes();
  // A slab across a 4 GiB boundary would need two such lattices: it keeps the
  // larger side (a few pages in one slab per 4 GiB of address space).
  uintptr_t boundary = (lo | 0xffffffffu) + 1;
  if (boundary < hi) {
    if (boundary - lo >= hi - boundary)
      hi = boundary;
    else
      lo = boundary;
  }
  uintptr_t first = lo + (size - static_cast<uint32_t>(lo) % size) % size;
  s->objs = reinterpret_cast<char*>(first);
  s->capacity = static_cast<uint32_t>((hi - first) / size);
}

Span* CentralFreeList::new_slab(uint32_t group) {
  const ClassInfo& ci = class_info(cls_);
  auto owner = static_cast<uint8_t>(group);
  Span* s = ph_->alloc(ci.pages, SpanState::kSmall, static_cast<uint8_t>(cls_), owner);
  if (!s) return nullptr;
  s->set_owner(owner);  // its shard here, and its pages' group when it goes back
  slab_layout(s, size_);
  MM_ASSERT(s->capacity <= ci.objects && s->capacity > 0);  // fewer across 4 GiB
  s->allocated = 0;
  s->returned = 0;
  for (uint64_t& w : s->freebits) w = 0;
  s->bump = s->objs;  // objects are carved lazily, batch by batch
  // Its pages in one call rather than a fault each as batches are linked (os.h).
  ph_->populate_range(reinterpret_cast<void*>(s->base()), s->bytes());
  return s;
}

int CentralFreeList::remove_range(void** head, int n, uint32_t group) {
  // Objects that came back are chained under the lock (their lines are warm), but
  // never-carved objects are only reserved there, a run of one slab's bump range,
  // and linked after the lock is dropped: the first touch of a fresh page faults,
  // and that must not happen while other threads wait for this class. A slab is
  // taken from the page heap outside the lock too.
  void* first = nullptr;
  void* last = nullptr;
  int got = 0;
  char* run = nullptr;  // reserved bump objects
  int run_n = 0;
  MM_ASSERT(group < kLocalityGroups);
  Span* list = &nonempty_[group];
  lock_.lock();
  while (got + run_n < n) {
    if (span_list_empty(list)) {
      if (run_n) break;  // link what we have first
      lock_.unlock();
      Span* fresh = new_slab(group);
      lock_.lock();
      list = list_with_objects(group, fresh);
      if (!list) break;
    }
    Span* s = list->next;
    MM_ASSERT(s->state == SpanState::kSmall && s->returned <= s->capacity - s->allocated);
    for (uint32_t w = 0; w < kMaxSlabObjects / 64 && got + run_n < n && s->returned; ++w) {
      uint64_t bits = s->freebits[w];
      while (bits && got + run_n < n) {
        uint32_t idx = w * 64 + static_cast<uint32_t>(__builtin_ctzll(bits));
        bits &= bits - 1;
        void* obj = s->objs + size_t{idx} * size_;
        --s->returned;
        s->objects_purged = false;
        ++s->allocated;
        if (last)
          next_of(last) = obj;
        else
          first = obj;
        last = obj;
        ++got;
      }
      s->freebits[w] = bits;
    }
    if (got + run_n < n && s->allocated < s->capacity && !run_n) {
      // The rest of this slab is never-carved: reserve up to the need.
      uint32_t k = s->capacity - s->allocated;
      if (k > static_cast<uint32_t>(n - got)) k = static_cast<uint32_t>(n - got);
      run = s->bump;
      run_n = static_cast<int>(k);
      s->bump += size_t{k} * size_;
      s->allocated += k;
    }
    if (s->allocated == s->capacity) {
      span_list_remove(s);
      s->in_list = false;
    } else if (got + run_n < n) {
      break;  // a second bump run would need a second list: take fewer
    }
  }
  MM_ASSERT(got + run_n <= n);
  allocated_ += static_cast<size_t>(got + run_n);
  lock_.unlock();
  for (int i = 0; i < run_n; ++i, run += size_) {
    if (last)
      next_of(last) = run;
    else
      first = run;
    last = run;
  }
  got += run_n;
  if (last) next_of(last) = nullptr;
  *head = first;
  return got;
}

Span* CentralFreeList::list_with_objects(uint32_t group, Span* fresh) {
  if (fresh) {
    ++slabs_;
    capacity_ += fresh->capacity;
    span_list_push(&nonempty_[group], fresh);
    fresh->in_list = true;
    return &nonempty_[group];
  }
  for (Span& head : nonempty_)
    if (!span_list_empty(&head)) return &head;
  return nullptr;
}

void CentralFreeList::insert_range(void* head) {
  // The pagemap lookups happen before the lock is taken, a batch at a time, so
  // that the critical section is only list pushes.
  constexpr int kChunk = 64;
  Pagemap* pm = ph_->pagemap();
  while (head) {
    void* objs[kChunk];
    Span* spans[kChunk];
    int k = 0;
    Span* last = nullptr;
    for (; head && k < kChunk; ++k) {
      objs[k] = head;
      // A batch is mostly runs of neighbours: the previous object's slab often
      // holds this one too, and then the radix tree need not be walked.
      auto a = reinterpret_cast<uintptr_t>(head);
      if (!last || a - reinterpret_cast<uintptr_t>(last->base()) >= last->bytes()) {
        last = pm->span_of(head);
        // Not a slab of this class any more: its objects all came back already,
        // so this one is freed a second time.
        if (MM_UNLIKELY(!last || last->state != SpanState::kSmall || last->cls != cls_))
          fatal("free", "double free of", head);
      }
      // Not at an object's start (a free of an interior pointer that got past the
      // thread cache): it would be handed out overlapping its neighbour.
      if (MM_UNLIKELY(!is_slab_object(last, head))) fatal("free", "invalid pointer", head);
      spans[k] = last;
      head = next_of(head);
    }
    LockGuard g(lock_);
    MM_ASSERT(allocated_ >= static_cast<size_t>(k));
    allocated_ -= static_cast<size_t>(k);
    for (int i = 0; i < k; ++i) {
      Span* s = spans[i];
      auto idx = static_cast<uint32_t>(
          (reinterpret_cast<uintptr_t>(objs[i]) - reinterpret_cast<uintptr_t>(s->objs)) * recip_ >>
          32);
      uint64_t bit = uint64_t{1} << (idx % 64);
      // Already marked: an object freed twice got past the thread caches. Going
      // on would hand it out twice (and overrun the slab's never-carved count).
      if (MM_UNLIKELY(s->freebits[idx / 64] & bit)) fatal("free", "double free of", objs[i]);
      MM_ASSERT(idx < s->capacity && s->allocated > 0);
      s->freebits[idx / 64] |= bit;
      ++s->returned;
      s->objects_purged = false;
      if (--s->allocated == 0 && !keep_slabs_) {
        // Wholly free: back to the page heap, where it can merge with its neighbours.
        // A later object of this chunk in the same slab was freed twice (its first
        // copy just made the slab free): report it before the span goes away.
        for (int j = i + 1; j < k; ++j)
          if (MM_UNLIKELY(spans[j] == s)) fatal("free", "double free of", objs[j]);
        if (s->in_list) span_list_remove(s);
        s->in_list = false;
        --slabs_;
        capacity_ -= s->capacity;
        ph_->free(s);
      } else if (!s->in_list) {
        span_list_push(&nonempty_[s->owner], s);
        s->in_list = true;
      }
    }
  }
}

namespace {
bool all_returned(const Span* s, uint32_t lo, uint32_t hi) {
  for (uint32_t i = lo; i <= hi; ++i)
    if (!(s->freebits[i / 64] & (uint64_t{1} << (i % 64)))) return false;
  return true;
}
}  // namespace

size_t CentralFreeList::purge_free_pages(bool all) {
  size_t purged = 0;
  int calls = 0;
  LockGuard g(lock_);  // held across madvise: an object handed out meanwhile would lose its data
  for (Span& head : nonempty_) {
    for (Span* s = head.next; s != &head; s = s->next) {
      bool idle = s->returned == s->seen_returned;
      s->seen_returned = s->returned;
      if (s->objects_purged || s->returned == 0 || (!all && !idle)) continue;
      // A decay pass stops after a bounded number of system calls: the lock is
      // held, and the rest waits for the next pass.
      if (!all && calls >= kPurgeCallsPerPass) return purged;
      purged += purge_slab_pages(s, &calls);
    }
  }
  return purged;
}

size_t CentralFreeList::purge_slab_pages(Span* s, int* calls) {
  constexpr size_t kOsPage = 4096;  // madvise's unit
  size_t purged = 0;
  auto carved = static_cast<uint32_t>(static_cast<size_t>(s->bump - s->objs) / size_);
  // OS pages from the slab's base; objects from s->objs, which may lie up to a
  // few pages further (slab_layout). A page before the first object holds none.
  auto lead = static_cast<size_t>(s->objs - s->base());
  size_t run = 0;  // purgeable bytes ending at off: one call per run of OS pages
  for (size_t off = 0; off <= static_cast<size_t>(s->bump - s->base()); off += kOsPage) {
    bool free_page = false;
    if (off < static_cast<size_t>(s->bump - s->base()) && off + kOsPage > lead) {
      auto lo = static_cast<uint32_t>((off > lead ? off - lead : 0) / size_);
      auto hi = static_cast<uint32_t>((off + kOsPage - 1 - lead) / size_);
      if (hi >= carved) hi = carved - 1;
      free_page = all_returned(s, lo, hi);
    }
    if (free_page) {
      run += kOsPage;
    } else if (run) {
      ph_->purge_range(s->base() + off - run, run);
      purged += run;
      run = 0;
      ++*calls;
    }
  }
  s->objects_purged = true;
  return purged;
}

size_t CentralFreeList::free_objects() {
  LockGuard g(lock_);
  return capacity_ - allocated_;
}

}  // namespace mm
