// Policy constants: every number that trades speed against memory, in one place,
// each with its reason. The measurements behind them are in docs/architecture.md;
// the user-settable ones are defaults of the Config table (config.h).
#pragma once
#include "common.h"

namespace mm {

// Objects moved between a thread cache and the small back end at once. Bigger
// batches cross to the transfer cache less often; 64 fills a slab's smallest run.
constexpr uint32_t kSmallBatch = 64;

// Bytes of whole batches each small class keeps in its transfer caches, across the
// shards: enough that a thread cycling a few MB finds its own batches there.
constexpr size_t kTransferBytesPerClass = 8 << 20;
// Transfer-cache shards: threads with different shards do not fight over one top.
constexpr uint32_t kTransferShards = 4;
// Bytes of batches each cached medium bin's transfer stack keeps: only chunks freed
// by a thread other than their heap's owner pass there.
constexpr size_t kMediumTransferBytes = 64 * 1024;

// A thread cache's medium bins each hold at most this many bytes (but two batches):
// cached chunks look in use to their heap and should rarely stand between free
// neighbours that could merge. 16 -> 32 KiB: larson 8..1000 B +14% at one thread,
// +11% at two, producer/consumer no slower; 64 KiB made producer/consumer 1.6x
// slower. Heap-limit calloc test: +128 KiB peak VmData (+4.4% over glibc).
constexpr size_t kMediumBinBytes = 32 * 1024;
// The bins of chunks over 1 KiB (kFirstBigBin on) each hold at most this many
// bytes (but kBigBinMinChunks chunks, below); their budget (kBigBudgetScale)
// binds first when many classes are in use. With 32 KiB, as the bins up to
// 1 KiB, a class of 16 KiB or more held two chunks, and a program whose blocks of
// some KiB come and go in varying sizes went to its heap at a third of its
// requests: blocks of 1..64 KiB, a random one of 128 replaced per step, 314k heap
// fetches per 2M steps, 74k at 256 KiB (128 KiB: 199k); time 0.409 -> 0.212 s
// per 10M steps (tcmalloc 0.065), with 512 and 2048 slots 0.327 -> 0.224 and
// 0.469 -> 0.305. Heap-limit tests, footprint and phases unchanged.
constexpr size_t kBigBinBytes = 256 * 1024;
// ...but at least this many chunks: a bin's count walks up and down at random as
// the program's blocks of its class come and go, and a bin of four 64 KiB chunks
// hit its bounds (a chunk to or from the coalescing heap, about 1000
// instructions) at every few requests of its class. With the budget below at 8x:
// blocks of 1..64 KiB in 128 slots, 74k heap fetches per 2M steps -> 3.0k (8
// chunks: 17.8k; 32: 3.3k), 0.0602 -> 0.0284 s (tcmalloc 0.0214, mimalloc 0.0796;
// alternating medians of 7); 512 slots 0.124 -> 0.078, 2048 0.267 -> 0.180.
constexpr uint32_t kBigBinMinChunks = 16;
// Medium chunks up to this size are cached by the thread caches in size classes
// (size_class.h); bigger ones go to their heap at every free. 32 -> 64 KiB, with
// the budget below (either alone changed nothing): realloc_mix, whose junk is
// 8 B..64 KiB, 0.0652 -> 0.0584 s at one thread and 0.0707 -> 0.0608 at two
// (20000 rounds); footprint 1.062 -> 1.088 (rounding of 32..64 KiB requests).
constexpr size_t kBigCachedMax = 64 * 1024;
// The bins over 1 KiB (budget group 1) may hold this many times
// MYMALLOC_TCACHE_BYTES: a program that cycles chunks of many classes of tens of
// KiB needs a couple of each; at 1x the bins took budget from one another at
// nearly every refill (realloc_mix: 19k grow_max, 15k lower_limit per 3000 rounds).
// 4x -> 8x with kBigBinMinChunks (the caps alone changed nothing, the budget
// bound: 68.6k fetches): perl 300k keys 1.306 -> 1.222 s (tcmalloc 1.432), peak
// RSS of realloc_mix 2000 rounds 5.7 -> 6.2 MB, phases 4.559 -> 4.596 (glibc
// 4.651), footprint and the memory-return figures unchanged. With the default
// 1 MiB the budget (8 MiB) binds before the bins' caps (17 MiB over bins 65..112).
constexpr size_t kBigBudgetScale = 8;
// Bins a growing bin looks at for budget to take, per call (steal_budget).
constexpr uint32_t kStealSteps = 16;
// Slab bins are bounded by the byte budget alone; this cap is never reached first.
constexpr uint32_t kSmallBinCap = 65536;
// Medium frees waiting in a thread's stash before it is drained: a bad free is
// reported at most this many frees later.
constexpr uint32_t kStashMax = 16;
// A block that realloc moves to grow, or grows in place into a free neighbour,
// takes this share of its size more (old + old / kReallocHeadroomDiv), so that a
// string grown by small appends is copied or re-fitted O(log n) times. A quarter
// (tcmalloc's) -> a half: realloc_mix's strings alone (64 strings appended to,
// restarted at about 10 KB) 0.1478 -> 0.1303 s, tcmalloc 0.1324; realloc_mix
// 20000 rounds 0.0486 -> 0.0448 (alternating medians of 9); a whole doubling
// gained 3% more.
constexpr size_t kReallocHeadroomDiv = 2;
// Caches of exited threads kept whole for the next thread to take over, for at
// most this long (then their objects go down a tier: they are a cache, not a pool).
constexpr uint32_t kMaxParked = 8;
constexpr uint32_t kParkedMaxMs = 1000;

// A medium heap's first region, and the step its newest region grows by in place.
constexpr size_t kRegionMin = 128 * 1024;
constexpr size_t kRegionGrowMin = 32 * 1024;
// A region grows in place up to this size, then the heap starts another: splitting
// one (below) rewrites at most this many bytes' worth of pagemap entries. 1 MiB
// cost the heap-limit merge test 1.3% more peak VmData (region tails), 4 MiB none.
constexpr size_t kRegionMax = 4 << 20;
// A free chunk that holds at least this many bytes of whole pages gives them to the
// page heap (its region is split around them): free memory inside a medium region
// is then usable by every tier and purged with the rest, and a live chunk keeps
// at most about twice this from the other tiers. Smaller gaps stay, so a chunk
// that is freed and allocated again does not move pages each time (64 KiB cost
// the heap-limit calloc test 5% more peak VmData: pages went back and forth).
constexpr size_t kRegionReturnMin = 256 * 1024;
// Free chunks inside medium regions at least this big have their whole pages
// purged by decay (all of them on trim): the gaps that survivors leave between
// them, too small to split a region for.
constexpr size_t kPurgeChunkMin = 32 * 1024;
// System calls one decay pass of a central list or a medium heap makes at most
// (it holds that lock meanwhile); what is left waits for the next pass.
constexpr int kPurgeCallsPerPass = 256;
// A heap whose last thread exits purges the pages inside its free chunks when it
// holds more than this free: programs that run a thread per task orphan small
// heaps all the time (purging those cost larson 5% at two threads), while the
// heap of a thread that did real work should not keep its pages.
constexpr size_t kOrphanPurgeMin = 2 << 20;
// Chunks looked at for a best fit inside one ranged medium bin.
constexpr int kFitScan = 32;
// Fitting spans a ranged page-heap list is searched through for the best fit,
// most recently freed first (their first pages are still in the cache).
constexpr int kLargeFitScan = 4;
// Chunks parked on another thread's heap before the freeing thread merges them
// itself (when the owner is idle and its lock free).
constexpr uint32_t kRemoteDrainAt = 64;

// While the page heap is handing pages out, free spans past the purge threshold
// go to the OS at once only when they were freed at least this long ago (coarse
// clock: 4 ms steps).
constexpr uint32_t kPurgeGraceMs = 50;

// realloc moves a large block of at least this size by moving its pages (mremap)
// instead of copying them: below it a copy costs less than the system call.
constexpr size_t kMovePagesMin = 1 << 20;

// Large blocks are rounded up to classes: 2^kLargeClassBits per doubling of the
// size, at least kLargeClassMinStep pages (64 KiB) apart.
constexpr size_t kLargeClassBits = 3;
constexpr size_t kLargeClassMinStep = 8;

// Pages the page heap asks the OS for at least (64 KiB; glibc pads by 128 KiB).
constexpr size_t kHeapGrowPages = 8;
// Away from a data limit the step grows with the heap, an eighth of it, up to
// this (1 MiB; tcmalloc asks for at least 1 MiB, glibc for the need plus 128 KiB):
// every growth is a brk under the page heap's lock, and threads that grew their
// heaps by 64 KiB at once queued on it (realloc_mix at two threads: 100-170 brk
// calls and 30-60 futex waits per run; with this, 11-14 and 3-4). Untouched, the
// extra pages cost address space, not memory.
constexpr size_t kHeapGrowMaxPages = 128;
// Locality groups (page_heap.h, "Locality"): a thread's slabs and medium regions
// come from blocks of this many bytes that no other group's pages share. Two
// threads that each write their own 3.2 MB took 0.080-0.098 s when their memory
// alternated in pieces of 4-64 KiB, 0.061-0.063 in pieces of 256 KiB-1 MiB, and
// 0.055-0.056 in 2-4 MiB pieces, as one thread alone (0.054).
constexpr size_t kLocalityBlock = 2 << 20;
constexpr uint32_t kLocalityGroups = kTransferShards;

// Metadata comes in chunks this big: small enough that a tiny program's VmData
// barely moves.
constexpr size_t kMetaChunk = 32 * 1024;

// Spins before a lock sleeps on its futex: critical sections are a few hundred
// instructions at most.
constexpr int kLockSpins = 1024;

}  // namespace mm
