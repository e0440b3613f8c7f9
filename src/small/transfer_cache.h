// The transfer cache: per size class, a lock-free Treiber stack of whole batches
// between thread caches and the central free list.
//
// A batch is `batch` objects chained through their first word (the last one's is
// null); the head object's second word (or another, see set_link_word) links to
// the next batch. Every class is at
// least 16 bytes, so both words exist. ABA is prevented by the {pointer, tag} CAS:
// a pop that read a stale head->second-word fails because the tag moved on. That
// stale read may touch an object already handed to a user; it is harmless because
// slab memory is never unmapped (the page heap only madvises).
#pragma once
#include "../common/common.h"
#include "dwcas.h"

namespace mm {

class alignas(64) TransferCache {  // one cache line each: no false sharing
 public:
  static constexpr uint32_t kDefaultCapacity = 16;   // batches
  static constexpr size_t kCapacityBytes = 8 << 20;  // per class: docs/architecture.md

  // False when full: the caller goes to the central free list instead.
  bool push(void* batch_head);
  // A batch head, or nullptr when empty.
  void* pop();
  uint32_t batches() const { return __atomic_load_n(&count_, __ATOMIC_RELAXED); }
  // Three quarters full: a cache whose owner frees more than it takes back.
  bool has_surplus() const { return batches() * 4 >= capacity_ * 3; }
  // Who pushed last (an id the caller chooses; 0: nobody yet). Its own line, so
  // the store costs nothing beside the push's CAS.
  void set_last_pusher(uint32_t id) { __atomic_store_n(&last_pusher_, id, __ATOMIC_RELAXED); }
  uint32_t last_pusher() const { return __atomic_load_n(&last_pusher_, __ATOMIC_RELAXED); }
  void set_capacity(uint32_t c) { capacity_ = c; }
  // Medium chunks keep their cache token in word 1, so their batches link through
  // word 2 (every cached medium chunk has at least 272 bytes).
  void set_link_word(uint32_t w) { link_word_ = w; }

 private:
  void*& link(void* head) const { return static_cast<void**>(head)[link_word_]; }

  TaggedPtr top_{nullptr, 0};
  uint32_t count_ = 0;
  uint32_t last_pusher_ = 0;
  uint32_t capacity_ = kDefaultCapacity;
  uint32_t link_word_ = 1;
};

}  // namespace mm
