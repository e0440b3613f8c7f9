// Metadata: memory for the allocator's own objects (spans, heaps, pagemap nodes).
// Never calls malloc. Chunks come from os::map and are never returned.
#pragma once
#include "../common/assert.h"
#include "../common/common.h"
#include "../common/lock.h"

namespace mm {

// Zeroed, 16-byte aligned; nullptr when the OS refuses.
void* meta_alloc(size_t bytes);
size_t meta_bytes_mapped();
Lock& meta_lock();

// A typed free list over meta_alloc. Not thread-safe: its owner's lock guards it.
template <class T>
class MetaPool {
 public:
  T* alloc() {
    if (free_) {
      FreeNode* n = free_;
      free_ = n->next;
      T* t = reinterpret_cast<T*>(n);
      *t = T{};
      return t;
    }
    T* t = static_cast<T*>(meta_alloc(sizeof(T) < sizeof(FreeNode) ? sizeof(FreeNode) : sizeof(T)));
    if (t) *t = T{};  // zeroed memory is not a T: member initialisers (a lock's rank) apply
    return t;
  }
  void free(T* t) {
    MM_ASSERT(t != nullptr && (reinterpret_cast<uintptr_t>(t) & 15) == 0);
    FreeNode* n = reinterpret_cast<FreeNode*>(t);
    n->next = free_;
    free_ = n;
  }

 private:
  struct FreeNode {
    FreeNode* next;
  };
  FreeNode* free_ = nullptr;
};

}  // namespace mm
