// A span: a run of whole pages, the unit the page heap hands out.
#pragma once
#include "../common/common.h"
#include "../common/size_class.h"

namespace mm {

class MediumHeap;

enum class SpanState : uint8_t {
  kFree = 0,    // in the page heap's free lists
  kSmall = 1,   // a slab of one size class
  kMedium = 2,  // a region of a medium heap
  kLarge = 3,   // one large block
};

constexpr uint32_t kMaxSlabObjects = 512;  // 8 KiB of 16-byte objects

struct Span {
  uintptr_t start = 0;  // first page number
  size_t npages = 0;
  Span* next = nullptr;  // page heap free list, central free list, or heap's region list
  Span* prev = nullptr;
  SpanState state = SpanState::kFree;
  uint8_t cls = kClsNone;
  bool purged = false;       // free pages given back to the OS (page heap only)
  bool decommitted = false;  // some pages may be read-only (page heap only): commit first
  uint32_t free_ms = 0;      // when it became free (page heap clock): decay purges it later
  bool in_lru = false;       // on the page heap's list of committed free spans
  // The page heap's locality group (PageHeap, "Locality"): whose free lists the
  // span's pages go back to; 0 is the common pool. A slab's group is also the
  // central free list's shard that hands its objects out. Written with set_owner:
  // a thread about to borrow a batch reads a slab's unlocked (owner_racy).
  uint8_t owner = 0;
  Span* lru_next = nullptr;  // newer
  Span* lru_prev = nullptr;  // older
  bool in_list = false;      // linked into a central free list (small only)

  // Small slabs.
  uint32_t allocated = 0;  // objects out of this span
  uint32_t capacity = 0;
  uint32_t seen_returned = 0;   // returned at the last decay pass: unchanged means idle
  bool objects_purged = false;  // the OS pages of returned objects were purged since
  uint32_t returned = 0;        // objects that came back: the bits set in freebits
  char* bump = nullptr;         // next never-carved object
  char* objs = nullptr;         // object 0 (slab_layout, small/central_free_list.h)
  uint64_t freebits[kMaxSlabObjects / 64] = {};  // returned objects, by index

  // Medium regions.
  MediumHeap* heap = nullptr;

  // Large blocks: the heap profiler's record when the block is a sampled
  // allocation (frontend/profile.h); nullptr otherwise.
  void* sample = nullptr;

  // A thread freeing a chunk of another thread's region reads its base while the
  // owner may cut the region's first pages away (PageHeap::cut): either value
  // lies below the chunk, and the access is atomic (a plain mov).
  char* base() const {
    return static_cast<char*>(page_addr(__atomic_load_n(&start, __ATOMIC_RELAXED)));
  }
  size_t bytes() const { return npages << kPageShift; }
  uintptr_t end_page() const { return start + npages; }
  void set_owner(uint8_t o) { __atomic_store_n(&owner, o, __ATOMIC_RELAXED); }
  uint8_t owner_racy() const { return __atomic_load_n(&owner, __ATOMIC_RELAXED); }
};

// Intrusive circular list with a dummy head, used for spans everywhere.
MM_INLINE void span_list_init(Span* head) { head->next = head->prev = head; }
MM_INLINE bool span_list_empty(const Span* head) { return head->next == head; }
MM_INLINE void span_list_remove(Span* s) {
  s->prev->next = s->next;
  s->next->prev = s->prev;
  s->next = s->prev = nullptr;
}
MM_INLINE void span_list_push(Span* head, Span* s) {
  s->next = head->next;
  s->prev = head;
  head->next->prev = s;
  head->next = s;
}

}  // namespace mm
