// The thread cache: the front end. Per-thread bins of free objects for every small
// class and for medium chunks up to kBigCachedMax, in initial-exec TLS: the fast paths
// below take no lock and use no atomic instruction.
#pragma once
#include "../common/assert.h"
#include "../common/common.h"
#include "../common/lock.h"
#include "../common/size_class.h"
#include "../medium/chunk.h"
#include "../page/pagemap.h"
#include "process.h"

namespace mm {

class MediumHeap;

// A bin keeps max - count rather than the count: free() takes one from it and
// pushes while it stays >= 0, one read-modify-write and a branch, where a count
// would be read, compared with max, and written back.
//
// The list's head is kept encoded (common.h): link is the word a free object
// stores to point at the head, so that free copies it and malloc moves the head's
// own link into it, neither decoding. Zero, in a thread's cache before its set-up,
// decodes to a misaligned head, which sends malloc to its slow path.
struct Bin {
  uintptr_t link;  // the head of the objects linked through their first word, encoded
  int32_t room;    // max - count: the objects it may still take
  uint32_t max;    // slow-start limit; 0 until the thread is set up
  static Bin none() { return Bin{encode_link(nullptr), 0, 0}; }  // empty, takes nothing
  void* head() const { return decode_link(link); }
  void set_head(void* p) { link = encode_link(p); }
  uint32_t count() const { return max - static_cast<uint32_t>(room); }
  void add(uint32_t n) { room -= static_cast<int32_t>(n); }  // n objects more
  void remove(uint32_t n) { room += static_cast<int32_t>(n); }
  void set_max(uint32_t m) {
    room += static_cast<int32_t>(m - max);
    max = m;
  }
};

// Per class, the constant that tells a slab object's start (slab_layout): with
// m = 2^64 / size rounded up, the low 32 bits x of an address are a multiple of
// size exactly when x * m mod 2^64 < m (Lemire, Kaser and Kurz, "Faster remainder
// by direct computation", 2019). Kept in 16-byte entries beside the bins, so that
// free() reaches it from the bin's address: 4 instructions in all.
// The entry holds m and m - 1, the bound the product is compared with, so that
// both are memory operands (a register for m cost an instruction).
struct StartCheck {
  uint64_t m;
  uint64_t limit;  // m - 1; 0 with m 0 where no free may pass
};
MM_INLINE constexpr StartCheck start_check_for(uint32_t size) {
  return StartCheck{~uint64_t{0} / size + 1, ~uint64_t{0} / size};
}
// Each slab class's, as a table (bin 0 unused): thread set-up copies it beside
// the bins, and realloc reads it for threads that have no cache yet. The bins
// of medium chunks up to kCachedMax have their chunk size's: the chunks of grid
// pages (size_class.h, is_grid_class) sit at its multiples.
struct SlabStartChecks {
  StartCheck c[kFirstBigBin];
  constexpr SlabStartChecks() : c() {
    for (uint32_t b = 1; b < kFirstBigBin; ++b)
      c[b] = start_check_for(static_cast<uint32_t>(bin_size(b) + (b > kNumSmallClasses ? 16 : 0)));
  }
};
inline constexpr SlabStartChecks kSlabStartChecks{};
MM_INLINE const StartCheck& start_check_of(const Bin& b);  // the entry beside b (below)
MM_INLINE bool passes_start_check(const void* p, const StartCheck& c) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)) * c.m <= c.limit;
}

enum : uint8_t { kCacheFresh = 0, kCacheActive = 1, kCacheDead = 2 };

struct ThreadCache {
  // kNumBins bins, then the medium stash (bins[kClsMedium], see below) and the
  // bin of kClsLarge, which keeps max 0. First: free indexes them by class << 4.
  Bin bins[kNumBins + 2];
  // Beside each bin, its class's start check: slab classes their size's, bins
  // of grid pages their chunks', the stash 16-byte alignment; zero for the rest,
  // whose bins stay full (with m 0 every address passes: the room refuses first).
  StartCheck starts[kNumBins + 2];
  // Bytes this thread may still allocate before the next heap-profile sample
  // (profile.h); malloc subtracts every request from it.
  int64_t sample_left;
  uint64_t sample_rng;    // the sampler's random state (0 until first used)
  MediumHeap* heap;       // this thread's medium heap, attached on first use
  ThreadCache* reg_next;  // registry of live caches (stats, fork, pressure)
  ThreadCache* reg_prev;
  // Sums of max * size over the bins up to 1 KiB and over the bigger medium
  // bins: each bounded by the budget (budget_group).
  size_t max_bytes[2];
  uint32_t flush_epoch;      // flush when the global epoch moves (memory pressure)
  uint32_t steal_cursor[2];  // next bin of each group to take budget from
  uint32_t serial;           // numbers the threads: picks a transfer-cache shard
  uint32_t seen[kNumBins];   // bin counts at the last scavenge: unchanged means idle
  uint8_t state;
  // Objects of each class this thread took from the back ends and gave back to
  // them (jemalloc's nmalloc/nfree): the statistics' counts per class, kept on
  // the slow paths only, so a cache hit counts nothing. Index kClsMedium counts
  // uncached medium chunks, kClsLarge large blocks. Added to the process's totals
  // when the thread exits.
  uint64_t fetched[kNumBins + 2];
  uint64_t returned[kNumBins + 2];
};

extern MM_HIDDEN __thread ThreadCache t_cache __attribute__((tls_model("initial-exec")));

// A thread's locality group (page_heap.h), which is also its transfer-cache shard.
MM_INLINE uint8_t locality_group(const ThreadCache* tc) {
  return static_cast<uint8_t>(tc->serial % kLocalityGroups);
}

MM_INLINE const StartCheck& start_check_of(const Bin& b) {
  constexpr size_t kDistance = offsetof(ThreadCache, starts) - offsetof(ThreadCache, bins);
  static_assert(sizeof(StartCheck) == sizeof(Bin), "starts[c] lies kDistance after bins[c]");
  return *reinterpret_cast<const StartCheck*>(reinterpret_cast<const char*>(&b) + kDistance);
}

// The medium stash, bins[kClsMedium]: free() pushes every medium chunk there as
// it pushes a slab object into its bin, the same instructions, without reading
// the chunk's header. Telling a chunk's size needs its header, and deciding
// between the two on every free mispredicts when sizes mix (larson: half of the
// frees). The stash is drained - each chunk checked as free() would have, then
// cached by size or freed to its heap - when it is full, on every allocation
// slow path (a realloc that moves a block is one), when the cache is flushed,
// and at exit; so a bad free of a medium chunk is still reported, within
// kStashMax frees or at the next slow path, and a freed chunk is merged before
// any allocation that could need it.
void stash_drain(ThreadCache* tc);
MM_INLINE void stash_drain_pending(ThreadCache* tc) {
  if (MM_UNLIKELY(tc->bins[kClsMedium].count() != 0)) stash_drain(tc);
}

// A medium chunk waiting in a thread cache keeps its in-use header (its heap must
// not merge it) and carries a token in its second word, so that a second free of
// it is caught. Every object is at least 16 bytes, so malloc clears that word for
// every object it hands out, small or medium: one store and no branch, where
// restoring a header would need to know the tier (and mispredict on mixed sizes).
// The token is a per-process random value (glibc's tcache key), so user data does
// not match it by accident; keying it by the address as well cost free() an
// instruction for nothing a program could tell.
MM_INLINE uintptr_t& cache_token_slot(void* p) { return static_cast<uintptr_t*>(p)[1]; }
MM_INLINE uintptr_t cache_token(const void*) { return g_token_secret; }
MM_INLINE bool is_cached_chunk(void* p) { return cache_token_slot(p) == cache_token(p); }
MM_INLINE void mark_cached(void* p) { cache_token_slot(p) = cache_token(p); }
// What free checks before it links p into bin b (room aside): p is one of b's
// object starts (start_check_of, below) and not free already (its token).
MM_INLINE bool may_link(const Bin& b, void* p) {
  return passes_start_check(p, start_check_of(b)) && !is_cached_chunk(p);
}

// Every object is 16-byte aligned. A bin's head is checked before it is used or
// handed out: a misaligned one was freed so by the program (free(p + 8)), or is a
// link a use-after-free write forged, which decodes to garbage (see next_of) and
// is refused here, one malloc before it would be followed.
MM_INLINE void check_head(void* p) {
  if (MM_UNLIKELY(reinterpret_cast<uintptr_t>(p) & 15))
    fatal("malloc", "corrupted free list or misaligned free of", p);
}

MM_INLINE void* bin_pop(Bin& b) {
  void* p = b.head();
  if (MM_LIKELY(p != nullptr)) {
    check_head(p);
    b.link = *static_cast<uintptr_t*>(p);  // the next object's link
    MM_ASSERT(b.count() > 0);              // a non-empty list has a count
    b.remove(1);
  }
  return p;
}

// Takes an object out of a bin for the caller, clearing the cache token.
MM_INLINE void* bin_take(Bin& b) {
  void* p = bin_pop(b);
  if (MM_LIKELY(p != nullptr)) cache_token_slot(p) = 0;
  return p;
}

// Every object freed into a bin (slab objects, medium chunks, the stash) gets the
// cache token in its second word, and malloc clears it when it hands the object
// out again; so an object that carries its token is free already, wherever it
// went since (this thread's bins or another's, parked caches, central lists), and
// a second free of it goes to the slow path, which reports it (glibc's tcache
// key).
MM_INLINE void bin_link(Bin& b, void* p) {
  cache_token_slot(p) = cache_token(p);
  *static_cast<uintptr_t*>(p) = b.link;
  b.link = encode_object(p);  // p is an object: no end to encode
}
MM_INLINE bool bin_push(Bin& b, void* p) {
  if (MM_LIKELY(b.room > 0 && !is_cached_chunk(p))) {
    bin_link(b, p);
    b.add(1);
    return true;
  }
  return false;
}

// The whole in-use header word of every chunk of 288..1040 bytes (payloads
// 272..1024: the bins up to 1 KiB), in 16-byte entries at the byte offset of the
// header's bits 4..10. A valid header of such a chunk equals its entry; no other
// header does (a bigger chunk differs in the bits above 10; the entries of other
// sizes hold ~size, whose bits 4..10 differ from the offset's). One compare checks
// the size range, the magic and the flags, and the offset is the bin's: the stash
// drain spent 29 instructions a chunk with a range test and a table of magics.
struct UsedHeads {
  struct Entry {
    uint64_t head, unused;
  };
  static constexpr uint64_t kOffsetMask = 0x7f0;  // bits 4..10 of a header: sizes below 2 KiB
  Entry e[kOffsetMask / 16 + 1];
  constexpr UsedHeads() : e() {
    for (uint64_t i = 0; i < sizeof e / sizeof e[0]; ++i) {
      uint64_t size = 16 * i;
      bool binned = size > kSmallMax + kChunkHeader && size <= kCachedMax + kChunkHeader;
      e[i] = Entry{binned ? used_head(size) : ~size, 0};
    }
  }
  MM_INLINE uint64_t at(uint64_t offset) const {
    return *reinterpret_cast<const uint64_t*>(reinterpret_cast<const char*>(e) + offset);
  }
};
static_assert(kCachedMax + kChunkHeader <= UsedHeads::kOffsetMask, "the table covers the bins");
inline constexpr UsedHeads kUsedHeads{};

// The bin (of bins) a medium chunk may be cached in, or nullptr: its header must be
// a valid in-use one and its payload 257..kBigCachedMax bytes (the bin of the
// largest class it holds). A payload up to 1 KiB is its bin's byte offset, as bins
// and those classes are both 16 bytes apart.
MM_INLINE Bin* medium_cache_bin(Bin* bins, void* p) {
  static_assert(sizeof(Bin) == 16 && kFirstBigBin == kCachedMax / 16 + 1);
  uint64_t head = Chunk::of(p)->head();
  // Nothing but the chunk's own header is read: its right neighbour's line may be
  // another thread's (reading its tag here cost larson 40% at two threads).
  uint64_t offset = head & UsedHeads::kOffsetMask;
  if (MM_LIKELY(head == kUsedHeads.at(offset)))
    return reinterpret_cast<Bin*>(reinterpret_cast<char*>(bins) + offset - kChunkHeader);
  // Over 1 KiB: exactly an in-use header, its magic that of its size (a size
  // word forged by an overflow, magic kept, is not: chunk.h) and no other flag.
  // A size out of range goes to the slow path, which checks it fully.
  size_t size = head & ~(kMagicMask | kChunkFlagMask);
  size_t payload = size - kChunkHeader;
  if (payload - (kCachedMax + 1) < kBigCachedMax - kCachedMax && head == used_head(size))
    return &bins[big_cached_bin_floor(payload)];
  return nullptr;
}

// A medium chunk that medium_cache_bin accepts and that is not cached already
// goes into its bin; anything else takes the slow path.
MM_INLINE bool dealloc_medium_fast(void* p) {
  Bin* b = medium_cache_bin(t_cache.bins, p);
  return b != nullptr && bin_push(*b, p);
}

// A live thread's bin's count, read from another thread: 0 while it changes max.
// (room is negative while a bin holds a chain longer than its limit: cache_refill.)
inline uint32_t bin_count_racy(const Bin& b) {
  int64_t room = __atomic_load_n(&b.room, __ATOMIC_RELAXED);
  int64_t count = int64_t{__atomic_load_n(&b.max, __ATOMIC_RELAXED)} - room;
  return count >= 0 && count <= UINT32_MAX ? static_cast<uint32_t>(count) : 0;
}

// The bins up to 1 KiB share MYMALLOC_TCACHE_BYTES; the bins of bigger medium
// chunks (kFirstBigBin on) have a budget of their own, kBigBudgetScale times it, so that a few
// chunks of tens of KiB do not push thousands of small objects out.
MM_INLINE uint32_t budget_group(uint32_t bin) { return bin >= kFirstBigBin; }

// Bytes held in a set of bins (a live thread's, read racily, or a parked cache's).
inline size_t bins_bytes(const Bin* bins) {
  size_t total = 0;
  for (uint32_t bin = 1; bin < kNumBins; ++bin)
    total += size_t{bin_count_racy(bins[bin])} * bin_size(bin);
  return total;
}

// The counts above: into this thread's cache when it has one (tc), else into the
// process's totals, atomically.
extern uint64_t g_fetched[kNumBins + 2];
extern uint64_t g_returned[kNumBins + 2];
MM_INLINE void count_fetched(ThreadCache* tc, uint32_t cls, uint64_t n) {
  if (tc)
    tc->fetched[cls] += n;
  else
    __atomic_fetch_add(&g_fetched[cls], n, __ATOMIC_RELAXED);
}
MM_INLINE void count_returned(ThreadCache* tc, uint32_t cls, uint64_t n) {
  if (tc)
    tc->returned[cls] += n;
  else
    __atomic_fetch_add(&g_returned[cls], n, __ATOMIC_RELAXED);
}
MM_INLINE ThreadCache* active_cache() { return t_cache.state == kCacheActive ? &t_cache : nullptr; }
// The class a medium chunk of this payload is counted in: its bin's when cached
// sizes are, else kClsMedium.
MM_INLINE uint32_t medium_count_class(size_t payload) {
  return payload > kSmallMax && payload <= kBigCachedMax ? cached_bin_floor(payload) : kClsMedium;
}
struct ClassCounts {
  uint64_t fetched, returned, cached;
};
// Per class, the sums over the process (live caches read racily).
void thread_cache_counts(ClassCounts* out /* kNumBins + 2 */);

// Set-up and teardown (thread_cache.cc).
void thread_cache_init_key();
ThreadCache* thread_cache_setup();         // the current thread's cache, active, or nullptr if dead
void thread_cache_flush(ThreadCache* tc);  // everything down to the back ends
void thread_cache_scavenge(ThreadCache* tc);  // half of every idle bin goes down
void thread_cache_flush_parked();             // the caches of exited threads, all down
void thread_cache_age_parked();               // those parked for kParkedMaxMs, down
// Slow halves of the bins: pop one object after a refill (nullptr when the back
// end is out of memory), and make room in a full bin for p.
void* cache_refill(ThreadCache* tc, uint32_t bin);
// Moves the n most recently cached objects of a bin down to the back end.
void return_from_bin(ThreadCache* tc, uint32_t bin, uint32_t n);
void cache_overflow(ThreadCache* tc, uint32_t bin, void* p);
size_t thread_cache_bytes();  // bytes cached in all threads and parked caches
// Moved by a thread that ran out of memory: every other thread flushes its cache
// at its next slow path.
extern uint32_t g_flush_epoch;

// The registry's and parked caches' locks, for the fork handlers' table, and the
// registry after fork (only the forking thread is left).
void thread_cache_locks(void (*op)(Lock&));
void thread_cache_fork_child();

}  // namespace mm
