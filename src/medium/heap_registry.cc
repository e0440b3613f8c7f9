#include "heap_registry.h"

#include "../common/assert.h"

namespace mm {

namespace {
constinit HeapRegistry g_registry;
}

HeapRegistry& heap_registry() { return g_registry; }

MediumHeap* HeapRegistry::attach(uint8_t group) {
  LockGuard g(lock_);
  for (MediumHeap* h = head_; h; h = h->reg_next) {
    if (__atomic_load_n(&h->owners, __ATOMIC_RELAXED) == 0) {
      __atomic_store_n(&h->owners, 1, __ATOMIC_RELAXED);
      h->set_group(group);
      return h;
    }
  }
  if (count_ < cap_) {
    MediumHeap* h = pool_.alloc();
    if (h) {
      h->init(&page_heap());
      h->set_group(group);
      h->owners = 1;
      h->reg_next = head_;
      head_ = h;
      ++count_;
      return h;
    }
    if (!head_) return nullptr;
  }
  // Over the cap: share, round-robin.
  uint32_t pick = rr_++ % count_;
  MediumHeap* h = head_;
  while (pick--) h = h->reg_next;
  __atomic_fetch_add(&h->owners, 1, __ATOMIC_RELAXED);
  return h;
}

void HeapRegistry::detach(MediumHeap* h) {
  if (!h) return;
  bool orphaned;
  {
    LockGuard g(lock_);
    MM_ASSERT(h->owners > 0);
    orphaned = __atomic_sub_fetch(&h->owners, 1, __ATOMIC_RELAXED) == 0;
  }
  if (orphaned) {
    // Nobody will take this heap's lock for a while: merge what others parked,
    // return its free top region, and purge when it holds much. Outside the
    // registry's lock: the purge's system calls (70 madvise at the end of
    // realloc_mix) held it, and threads that exited together purged one after
    // the other. A thread that attaches the heap meanwhile waits on its lock.
    LockGuard hg(h->lock());
    h->trim(h->free_bytes() > kOrphanPurgeMin);
  }
}

}  // namespace mm
