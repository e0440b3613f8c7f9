// Memory pressure and purging. Vocabulary: "return" moves free memory down a tier
// (thread cache -> transfer cache -> central list or medium heap -> page heap);
// "purge" gives free pages to the OS.
#pragma once
#include "../common/common.h"

namespace mm {

// Hard pressure, when the heap cannot grow: flush this thread's cache and the
// parked ones, return every transfer-cache batch, remote frees, empty slabs and
// wholly free regions to the page heap; other threads flush at their next slow path.
void relieve_pressure();
// Soft pressure, after the heap grew from the OS: this thread's cache returns half
// of each idle bin, each idle transfer cache half of its batches, and parked
// caches go down.
void scavenge_caches();
// relieve_pressure, then every free page of every tier goes to the OS.
void purge_free_memory();
// Decay, from every allocation slow path (no background thread): at most once per
// quarter of MYMALLOC_DECAY_MS, free pages unused for the decay time go to the OS
// (page heap spans, and the pages of idle slabs that hold only free objects).
// Costs a clock read (vDSO) when no pass is due.
void decay_if_due();

}  // namespace mm
