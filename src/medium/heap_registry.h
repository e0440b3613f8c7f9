// The registry of medium heaps: one heap per thread while threads are few, capped,
// then shared round-robin like glibc's arenas. A heap whose threads have all exited
// is an orphan: frees go into it directly, and the next new thread adopts it.
#pragma once
#include "../common/lock.h"
#include "../common/tuning.h"
#include "../meta/meta.h"
#include "medium_heap.h"

namespace mm {

class HeapRegistry {
 public:
  // For a thread of locality group (page_heap.h); nullptr only when metadata runs out.
  MediumHeap* attach(uint8_t group = 0);
  void detach(MediumHeap* h);
  void set_cap(uint32_t cap) { cap_ = cap ? cap : 1; }
  MediumHeap* first() const { return head_; }  // list walks happen under lock()
  Lock& lock() { return lock_; }

 private:
  Lock lock_{LockRank::kHeapRegistry};
  MediumHeap* head_ = nullptr;
  uint32_t count_ = 0;
  uint32_t cap_ = 8;
  uint32_t rr_ = 0;
  MetaPool<MediumHeap> pool_;
};

HeapRegistry& heap_registry();

}  // namespace mm
