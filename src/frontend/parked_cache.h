// Parked caches: the bins of exited threads, kept whole for the next thread to
// take over, as mimalloc reclaims abandoned pages. Programs that run a thread per
// task (larson hands its work to a new thread every 20000 operations) then skip
// both the flush at exit and the slow start in the successor. They are a cache,
// not a pool: at most kMaxParked, each for at most kParkedMaxMs.
#pragma once
#include "../common/lock.h"
#include "thread_cache.h"

namespace mm {

struct ParkedCache {
  Bin bins[kNumBins];
  ParkedCache* next;
  uint32_t parked_ms;  // when it was parked
};

// Moves the bins (and their objects) into a new parked cache and empties them;
// false when kMaxParked are parked already or metadata runs out.
bool park_bins(Bin* bins);
// The newest parked cache, taken off the list, or nullptr.
ParkedCache* take_parked();
// Takes off the list, as one chain, the caches parked for kParkedMaxMs or more.
ParkedCache* take_aged_parked();
void free_parked(ParkedCache* pc);
bool any_parked();
size_t parked_bytes();                 // objects' bytes in all parked caches
void parked_counts(ClassCounts* out);  // adds their objects to out[bin].cached
Lock& parked_lock();

}  // namespace mm
