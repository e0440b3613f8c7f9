#include "small_backend.h"

#include "../common/assert.h"
#include "../common/batch_stack.h"
#include "../common/config.h"
#include "../common/size_class.h"
#include "../common/tuning.h"
#include "../page/page_heap.h"
#include "../small/central_free_list.h"
#include "process.h"
#include "thread_cache.h"

namespace mm {

namespace {
constinit CentralFreeList g_central[kNumSmallClasses + 1];
// Transfer caches come in shards, one per locality group of threads (a thread's
// shard follows from its serial number, page_heap.h): a thread mostly gets its own
// batches back, warm, and threads on different shards do not fight over one stack
// top. A thread whose own shard is full pushes to the others. A thread takes a
// batch from a shard other than its own only when the batch is of its own group's
// slabs: objects it made that a consumer freed, or its own overflow; never another
// group's working set. Borrowing from any non-empty shard let two threads fall into
// taking each other's batches round after round, each then waiting on lines the
// other core had just written; borrowing only from a shard three quarters full
// left a consumer's shards holding up to 1.5 MiB per class while the producer
// carved new slabs (producer/consumer: 28 MB peak RSS and 6800 page faults, 5.4
// MB and 1000 now; docs/architecture.md).
constexpr uint32_t kShards = kTransferShards;
constinit BatchStack g_transfer[kShards][kNumSmallClasses + 1];
// A thread tries its own shard first, then the one two away: two threads with
// consecutive shards (the usual pair) then overflow into different shards and do
// not pick up each other's batches, whose lines sit modified in the other core.
constexpr uint32_t kShardOrder[kShards] = {0, 2, 1, 3};
MM_INLINE uint32_t group_of_thread() { return locality_group(&t_cache); }
// A stack's next batch comes from the slabs of the calling thread's locality group
// (page_heap.h). Read unlocked: the batch may be gone by the pop, and then the
// check was only a heuristic's.
bool next_batch_is_ours(BatchStack& stack) {
  void* p = stack.peek();
  Span* s = p ? g_pagemap.span_of(p) : nullptr;
  return s && s->owner_racy() == group_of_thread();
}
// The calling thread's i-th choice of transfer cache for class sc.
MM_INLINE BatchStack& shard_choice(uint32_t i, uint32_t sc) {
  return g_transfer[group_of_thread() ^ kShardOrder[i]][sc];
}
// Batch counts at the last scavenge: a cache whose count has not moved is idle.
uint32_t g_transfer_seen[kShards][kNumSmallClasses + 1];
// The locked stacks of 16-byte objects (BatchStack::use_slots) keep their heads here.
constexpr uint32_t kSlots16 =
    static_cast<uint32_t>(kTransferBytesPerClass / kShards / (16 * kSmallBatch));
void* g_slots16[kShards][kSlots16];
uint32_t g_lens16[kShards][kSlots16];
}  // namespace

void small_backend_init() {
  for (uint32_t sc = 1; sc <= kNumSmallClasses; ++sc) {
    g_central[sc].init(sc, &page_heap());
    g_central[sc].set_keep_slabs(g_config.check);
    // Whole batches circulate here without a lock; bound each class by bytes.
    for (auto& shard : g_transfer) {
      shard[sc].set_capacity(
          static_cast<uint32_t>(kTransferBytesPerClass / kShards / class_info(sc).size));
      // Word 1 is the double-free token (thread_cache.h): objects of 32 bytes
      // and up link their batches through word 2, so that a batch's head keeps it;
      // 16-byte ones have no third word and use the locked form.
      if (class_info(sc).size >= 32) shard[sc].set_link_word(2);
    }
  }
  static_assert(class_info(1).size == 16 && class_info(1).batch == kSmallBatch);
  for (uint32_t s = 0; s < kShards; ++s) {
    MM_ASSERT(batch_bytes(1) * kSlots16 * kShards == kTransferBytesPerClass);
    g_transfer[s][1].use_slots(g_slots16[s], g_lens16[s], kSlots16);
  }
}

int small_fetch(uint32_t sc, void** head, int n) {
  ensure_init();
  if (static_cast<uint32_t>(n) == class_info(sc).batch) {
    for (uint32_t i = 0; i < kShards; ++i) {
      BatchStack& stack = shard_choice(i, sc);
      if (i >= 1 && !next_batch_is_ours(stack)) continue;  // another group's working set
      uint32_t got;
      if (void* b = stack.pop(&got)) {
        *head = b;
        return static_cast<int>(got);
      }
    }
  }
  // The slabs of the thread's locality group (page_heap.h): its shard's.
  static_assert(kLocalityGroups == kShards);
  return g_central[sc].remove_range(head, n, group_of_thread());
}

void small_return(uint32_t sc, void* head, int n, bool long_chain) {
  uint32_t batch = class_info(sc).batch;
  if (static_cast<uint32_t>(n) == batch || (long_chain && static_cast<uint32_t>(n) > batch)) {
    for (uint32_t i = 0; i < kShards; ++i) {
      BatchStack& stack = shard_choice(i, sc);
      if (stack.push(head, static_cast<uint32_t>(n))) return;
    }
  }
  g_central[sc].insert_range(head);
}

void small_return_transfer(bool idle_half) {
  for (uint32_t s = 0; s < kShards; ++s) {
    for (uint32_t sc = 1; sc <= kNumSmallClasses; ++sc) {
      uint32_t n = batches_to_drain(g_transfer[s][sc], g_transfer_seen[s][sc], idle_half);
      for (; n > 0; --n) {
        uint32_t got;
        void* b = g_transfer[s][sc].pop(&got);
        if (!b) break;
        g_central[sc].insert_range(b);
      }
    }
  }
}

void small_purge_free_pages(bool all) {
  for (uint32_t sc = 1; sc <= kNumSmallClasses; ++sc) g_central[sc].purge_free_pages(all);
}

void central_locks(void (*op)(Lock&)) {
  for (uint32_t sc = 1; sc <= kNumSmallClasses; ++sc) op(g_central[sc].lock());
  for (auto& shard : g_transfer) op(shard[1].slots_lock());  // rank kTransfer, after them
}

size_t small_free_bytes() {
  size_t total = 0;
  for (uint32_t sc = 1; sc <= kNumSmallClasses; ++sc)
    total += g_central[sc].free_objects() * class_info(sc).size;
  return total;
}

size_t small_transfer_bytes() {
  size_t total = 0;
  for (uint32_t sc = 1; sc <= kNumSmallClasses; ++sc)
    for (auto& shard : g_transfer) total += size_t{shard[sc].objects()} * class_info(sc).size;
  return total;
}

}  // namespace mm
