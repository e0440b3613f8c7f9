// Observability: a snapshot of every tier, malloc_stats(), MYMALLOC_STATS=1.
#pragma once
#include "../common/common.h"
#include "../frontend/thread_cache.h"

namespace mm {

struct Stats {
  size_t mapped;       // heap bytes from the OS plus metadata
  size_t metadata;     // of which metadata (spans, heaps, pagemap nodes)
  size_t in_use;       // bytes in blocks the program holds (slab/chunk granularity)
  size_t page_free;    // free bytes in the page heap
  size_t page_purged;  // of which given back to the OS
  size_t page_free_spans;
  size_t small_free;      // free objects inside slabs on central free lists
  size_t transfer_cache;  // bytes in transfer-cache batches
  size_t thread_cache;    // bytes in all thread caches
  size_t medium_regions;  // bytes of medium regions
  size_t medium_free;     // free bytes inside them (cached chunks count as used)
  size_t large_bytes;     // bytes of large spans
  size_t medium_heaps;
  size_t peak_mapped;  // most bytes obtained and not given back at once (page heap)
  size_t peak_active;  // most bytes of pages handed to the tiers at once
  uint64_t lock_waits, lock_sleeps, transfer_retries;  // contention (lock.h, batch_stack.h)
  ClassCounts classes[kNumBins + 2];  // by bin; kClsMedium uncached medium, kClsLarge large
};

Stats collect_stats();
// The summary to fd: "mymalloc[pid]: key value" lines, or one JSON object.
void print_stats(int fd, bool json);
size_t purge_free_memory_bytes();  // purge_free_memory; the bytes it gave to the OS

}  // namespace mm
