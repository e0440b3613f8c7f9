#include "central_free_list.h"

namespace mm {

void CentralFreeList::init(uint32_t cls, PageHeap* ph) {
  cls_ = cls;
  size_ = class_info(cls).size;
  ph_ = ph;
  span_list_init(&nonempty_);
}

Span* CentralFreeList::new_slab() {
  const ClassInfo& ci = class_info(cls_);
  Span* s = ph_->alloc(ci.pages, SpanState::kSmall, static_cast<uint8_t>(cls_));
  if (!s) return nullptr;
  s->capacity = ci.objects;
  s->allocated = 0;
  s->freelist = nullptr;
  s->bump = s->base();  // objects are carved lazily: untouched pages stay untouched
  ++slabs_;
  return s;
}

MM_INLINE void* CentralFreeList::pop_object(Span* s) {
  void* obj = s->freelist;
  if (obj) {
    s->freelist = next_of(obj);
  } else {
    obj = s->bump;
    s->bump += size_;
  }
  ++s->allocated;
  return obj;
}

int CentralFreeList::remove_range(void** head, int n) {
  LockGuard g(lock_);
  void* first = nullptr;
  void* last = nullptr;
  int got = 0;
  while (got < n) {
    Span* s;
    if (!span_list_empty(&nonempty_)) {
      s = nonempty_.next;
    } else {
      s = new_slab();
      if (!s) break;
      span_list_push(&nonempty_, s);
      s->in_list = true;
    }
    while (got < n && s->allocated < s->capacity) {
      void* obj = pop_object(s);
      if (last)
        next_of(last) = obj;
      else
        first = obj;
      last = obj;
      ++got;
    }
    if (s->allocated == s->capacity) {
      span_list_remove(s);
      s->in_list = false;
    }
  }
  if (last) next_of(last) = nullptr;
  allocated_ += static_cast<size_t>(got);
  *head = first;
  return got;
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
    for (; head && k < kChunk; ++k) {
      objs[k] = head;
      spans[k] = pm->span_of(head);
      head = next_of(head);
    }
    LockGuard g(lock_);
    allocated_ -= static_cast<size_t>(k);
    for (int i = 0; i < k; ++i) {
      void* obj = objs[i];
      Span* s = spans[i];
      next_of(obj) = s->freelist;
      s->freelist = obj;
      if (--s->allocated == 0) {
        // Wholly free: back to the page heap, where it can merge with its neighbours.
        if (s->in_list) span_list_remove(s);
        s->in_list = false;
        --slabs_;
        ph_->free(s);
      } else if (!s->in_list) {
        span_list_push(&nonempty_, s);
        s->in_list = true;
      }
    }
  }
}

size_t CentralFreeList::free_objects() {
  LockGuard g(lock_);
  size_t per = class_info(cls_).objects;
  return slabs_ * per - allocated_;
}

}  // namespace mm
