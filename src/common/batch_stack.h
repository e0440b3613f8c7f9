// A lock-free Treiber stack of whole batches of free objects. The small tier's
// transfer caches (between thread caches and the central free lists) and the
// medium tier's transfer stacks (other threads' chunks between thread caches) are
// both made of it.
//
// A batch is a chain of objects linked through their first word (the last one's is
// null): a class's batch of objects, or, from a thread cache's overflow, a longer
// chain (a whole bin but its newest batch, so that an overflow walks one batch and
// not every object it gives back). The head object's second word (or another, see
// set_link_word) links to the next batch, and the word after that holds the
// chain's length: the lock-free form needs objects of at least 32 bytes (the
// allocator's stacks link through word 2); 16-byte objects use the locked form
// (use_slots), which keeps heads and lengths in arrays. ABA is prevented by the
// {pointer, tag} CAS: a pop that read a stale head->second-word fails because the
// tag moved on. That stale read may touch an object already handed to a user; it
// is harmless because slab memory is never unmapped (the page heap only madvises).
#pragma once
#include "assert.h"
#include "common.h"
#include "dwcas.h"
#include "lock.h"

namespace mm {

extern uint64_t g_transfer_retries;  // CAS retries of every push and pop (statistics)

class alignas(64) BatchStack {  // one cache line each: no false sharing
 public:
  // Pushes a chain of n objects. False when full (an empty stack takes any
  // chain): the caller goes to the next tier down instead.
  bool push(void* batch_head, uint32_t n);
  // A batch head, and its length in *n, or nullptr when empty.
  void* pop(uint32_t* n);
  // The batch a pop would take now (nullptr: none); it may be gone by then.
  void* peek();
  uint32_t batches() const { return __atomic_load_n(&count_, __ATOMIC_RELAXED); }
  uint32_t objects() const { return __atomic_load_n(&objects_, __ATOMIC_RELAXED); }
  void set_capacity(uint32_t objects) { capacity_ = objects; }
  // Medium chunks keep their cache token in word 1, so their batches link through
  // word 2 (every cached medium chunk has at least 272 bytes), and keep their
  // length in word 3.
  void set_link_word(uint32_t w) { link_word_ = w; }
  // Batches of 16-byte objects have no word to spare for a link (word 0 chains
  // the batch, word 1 is the double-free token): their stacks keep the heads and
  // lengths in arrays of nslots instead, under a lock, as tcmalloc's transfer
  // caches do, so that every object keeps its token while it waits here.
  void use_slots(void** slots, uint32_t* lens, uint32_t nslots) {
    slots_ = slots;
    lens_ = lens;
    nslots_ = nslots;
  }
  Lock& slots_lock() { return lock_; }

 private:
  void*& link(void* head) const { return static_cast<void**>(head)[link_word_]; }
  uintptr_t& length(void* head) const { return static_cast<uintptr_t*>(head)[link_word_ + 1]; }
  bool has_room(uint32_t n) const {
    uint32_t held = __atomic_load_n(&objects_, __ATOMIC_RELAXED);
    return held == 0 || held + n <= capacity_;
  }

  TaggedPtr top_{nullptr, 0};
  uint32_t count_ = 0;     // batches
  uint32_t objects_ = 0;   // objects in them
  uint32_t capacity_ = 0;  // objects; set before use
  uint32_t link_word_ = 1;
  void** slots_ = nullptr;  // set: the locked array form (use_slots)
  uint32_t* lens_ = nullptr;
  uint32_t nslots_ = 0;
  Lock lock_{LockRank::kTransfer};
};

// How many batches a drain takes out of a stack: all of them, or, for an idle one
// (its count has not moved since the last look, kept in seen), half. Read and
// written racily by design: it is a heuristic.
MM_INLINE uint32_t batches_to_drain(const BatchStack& stack, uint32_t& seen, bool idle_half) {
  uint32_t now = stack.batches();
  uint32_t before = __atomic_exchange_n(&seen, now, __ATOMIC_RELAXED);
  return !idle_half ? UINT32_MAX : (now == before ? now / 2 : 0);
}

}  // namespace mm
