// The small tier's back end: per class, transfer caches (lock-free stacks of whole
// batches, in shards) over a central free list of slabs.
#pragma once
#include "../common/common.h"
#include "../common/lock.h"

namespace mm {

void small_backend_init();
// Up to n objects of size class sc chained through their first word; the count
// taken, 0 only when the page heap cannot grow.
int small_fetch(uint32_t sc, void** head, int n);
// Moves a chain of n objects of class sc down a tier: a whole batch to a transfer
// cache when one has room, anything else to the central free list. With
// long_chain, any chain of a batch or more goes to a transfer cache (a full bin's
// older objects, cache_overflow): the objects of flushes, scavenges and exits go
// to their slabs, which may then go back to the page heap.
void small_return(uint32_t sc, void* head, int n, bool long_chain = false);
// Moves batches from the transfer caches to the central lists (which give wholly
// free slabs to the page heap): all of them, or half of each idle cache's.
void small_return_transfer(bool idle_half);
// Purges the OS pages of central-list slabs that hold only free objects: all of
// them, or those of slabs idle since the last pass.
void small_purge_free_pages(bool all);
// The central free lists' locks, for the fork handlers' table (process.cc).
void central_locks(void (*op)(Lock&));

size_t small_free_bytes();      // free objects inside slabs on central lists
size_t small_transfer_bytes();  // objects in transfer-cache batches

}  // namespace mm
