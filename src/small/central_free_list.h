// The central free list of one size class: slabs (spans carved into equal objects,
// no per-object header) that have free objects, under one lock per class. A slab
// whose objects have all come back returns to the page heap, where it coalesces.
//
// Objects that come back are marked in their slab's bitmap, not pushed on a list,
// and leave again lowest address first: a batch built here is a run of
// neighbours whatever order the objects came back in. With lists, objects that
// two threads had interleaved came back out interleaved, and runs of consecutive
// addresses shrank round after round until every pop of a cold object missed the
// cache (docs/architecture.md).
//
// Slabs come in shards, one per locality group (page_heap.h): a thread takes
// objects from its own group's slabs, carved from its group's pages, so that two
// threads' objects do not alternate slab by slab. Another group's slabs serve it
// only when the page heap has no pages for a new one.
#pragma once
#include "../common/common.h"
#include "../common/lock.h"
#include "../common/size_class.h"
#include "../page/page_heap.h"

namespace mm {

class CentralFreeList {
 public:
  constexpr CentralFreeList() = default;
  void init(uint32_t cls, PageHeap* ph);

  // Up to n objects chained through their first word, last link null, from the
  // slabs of group (a locality group). Returns the count taken; 0 only when the
  // page heap cannot grow.
  int remove_range(void** head, int n, uint32_t group = 0);
  // Takes back a null-terminated chain of objects (any slabs of this class).
  void insert_range(void* head);

  size_t free_objects();  // objects sitting in slabs of this list
  // Purges the OS pages that hold only returned objects (their bits say so; no
  // link lives in them), in every slab (trim) or in slabs whose returned objects
  // did not change since the previous pass (decay). Returns the bytes purged.
  size_t purge_free_pages(bool all);
  size_t slabs() const { return slabs_; }
  // The checking mode (frontend/checked.cc) tells a freed object by a mark in its
  // last word and verifies its junk when it is handed out again. That holds only
  // while the slab's pages serve no other block in between: with this set, a slab
  // whose objects have all come back stays here (its free objects' pages can still
  // be purged) instead of going back to the page heap, where its pages could
  // become part of a medium region or a slab of another class and hold a program's
  // data beside an old mark.
  void set_keep_slabs(bool on) { keep_slabs_ = on; }
  Lock& lock() { return lock_; }

 private:
  Span* new_slab(uint32_t group);
  // purge_free_pages for one slab; counts its madvise calls in *calls.
  size_t purge_slab_pages(Span* s, int* calls);
  // The slabs of group with free objects, or when it has none and the page heap
  // no slab for it (fresh), another group's: nullptr when no slab has any.
  Span* list_with_objects(uint32_t group, Span* fresh);

  Lock lock_{LockRank::kCentral};
  PageHeap* ph_ = nullptr;
  Span nonempty_[kLocalityGroups];  // dummy heads of slabs that have free objects
  uint32_t cls_ = 0;
  uint32_t size_ = 0;
  bool keep_slabs_ = false;
  uint64_t recip_ = 0;    // 2^32 / size, rounded up: index = offset * recip_ >> 32
  size_t slabs_ = 0;      // slabs out of the page heap
  size_t allocated_ = 0;  // objects out of those slabs
  size_t capacity_ = 0;   // objects those slabs hold
};

// A slab's objects sit where the low 32 bits of their address are a multiple of
// the class size, from the first such address in the slab: free() tells an
// object's start from any other address with one multiplication by a per-class
// constant (dealloc_fast), without finding the slab. Sets s->objs and
// s->capacity, which is at most one object short of class_info's.
void slab_layout(Span* s, uint32_t size);
// p is the start of one of the slab's objects.
MM_INLINE bool is_slab_object(const Span* s, const void* p) {
  uint32_t size = class_info(s->cls).size;
  size_t off = static_cast<size_t>(static_cast<const char*>(p) - s->objs);
  return off < size_t{s->capacity} * size && off % size == 0;
}

}  // namespace mm
