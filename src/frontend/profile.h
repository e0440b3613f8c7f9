// The heap profiler: sampled allocations with their call stacks, written as
// heap profiles that google-pprof reads, and a leak report at exit.
//
// Sampling (tcmalloc's and jemalloc's scheme): every thread counts down the bytes
// it allocates (ThreadCache::sample_left, one subtraction on the malloc fast
// path); the allocation that takes the count below zero is sampled, and the next
// count is drawn from an exponential distribution whose mean is
// MYMALLOC_PROF_SAMPLE, so a block of n bytes is sampled with probability
// 1 - exp(-n / mean) whatever came before it. Scaling each sample by the inverse
// of that probability (pprof does it for "heap_v2" profiles) estimates the real
// totals without bias.
//
// A sampled block gets whole pages of its own (a large span) so that its free,
// from any thread, finds the record through Span::sample on the slow path that
// large blocks take anyway; nothing on the fast free path looks for samples.
// Records and stacks live in metadata memory, never in the program's heap.
//
// With profiling off, a thread's count starts at zero, so its first allocation
// takes the slow path once, which sets the count out of reach (2^63 bytes).
#pragma once
#include "../common/common.h"
#include "../common/lock.h"
#include "../page/span.h"

namespace mm {

// From the library's constructor: the unwinder, the dump signal.
void prof_start();
// alloc_slow's branch when this thread's count went below zero: the sampled block,
// or nullptr when this allocation is not sampled (then allocate as usual).
void* prof_sample_alloc(size_t n);
// A sampled block is being freed (its span's sample is set).
void prof_free(Span* s);
// What malloc_usable_size says of a sampled block: its request rounded up to 16,
// as for a block that was not sampled, not its pages. Programs that fit their
// data to the usable size (redis trims strings to it with realloc) would
// otherwise move every sampled block at once, and its sample with it.
size_t prof_usable_size(const Span* s);
// Writes <prefix>.<pid>.<seq>.heap (mymalloc_prof_dump); false when profiling is
// off or the file cannot be written.
bool prof_dump();
// Whether MYMALLOC_PROF or MYMALLOC_LEAKS asked for samples.
bool prof_enabled();
Lock& prof_lock();  // for the fork handlers' table
struct ProfTotals {
  uint64_t live, live_bytes;  // sampled blocks not freed yet (requested bytes)
  uint64_t allocs;            // samples ever taken
  uint64_t alloc_bytes;       // and their requested bytes
};
ProfTotals prof_totals();

}  // namespace mm
