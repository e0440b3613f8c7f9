// A futex mutex (Drepper, "Futexes are tricky", mutex 2): 0 free, 1 locked,
// 2 locked with waiters. It never allocates, which is why we do not use pthread_mutex
// in paths that std::atexit-style machinery could reach before libc is ready.
//
// Every lock has a fixed rank, and a thread takes locks in increasing rank order
// only (fork's prepare handler takes them all that way, process.cc). Debug builds
// check this on every acquire, as jemalloc's witness does: a thread-local count of
// the locks it holds per rank.
#pragma once
#include "assert.h"
#include "common.h"

namespace mm {

enum class LockRank : uint8_t {
  kInit,          // start-up, taken alone
  kQuarantine,    // MYMALLOC_CHECK's quarantine of freed blocks, taken alone
  kThreadCaches,  // registry of live thread caches
  kParked,        // caches of exited threads
  kHeapRegistry,  // registry of medium heaps
  kMediumHeap,    // each medium heap (several at once only in fork's prepare)
  kCentral,       // each central free list (several at once only in fork's prepare)
  kTransfer,      // the locked transfer stacks of 16-byte objects (batch_stack.h)
  kPageHeap,
  kProfile,  // the heap profiler's samples (takes metadata inside)
  kMeta,     // metadata, the innermost
  kCount,
};

#if defined(MM_DEBUG)
// Checks and records an acquire (try_acquire: a try_lock, which cannot deadlock
// and so may be taken out of order) and a release of a lock of rank r.
void witness_acquire(LockRank r, bool try_acquire);
void witness_release(LockRank r);
// fork's prepare handler takes every lock of a rank: allowed there only.
void witness_allow_many(bool on);
#endif

class Lock {
 public:
  constexpr explicit Lock(LockRank rank) : rank_(rank) {}
  MM_INLINE void lock() {
    MM_DEBUG_ONLY(witness_acquire(rank_, false));
    uint32_t expected = 0;
    if (MM_LIKELY(__atomic_compare_exchange_n(&state_, &expected, 1, false, __ATOMIC_ACQUIRE,
                                              __ATOMIC_RELAXED)))
      return;
    lock_slow();
  }
  MM_INLINE bool try_lock() {
    uint32_t expected = 0;
    bool ok = __atomic_compare_exchange_n(&state_, &expected, 1, false, __ATOMIC_ACQUIRE,
                                          __ATOMIC_RELAXED);
    MM_DEBUG_ONLY(if (ok) witness_acquire(rank_, true));
    return ok;
  }
  MM_INLINE void unlock() {
    MM_DEBUG_ONLY(witness_release(rank_));
    if (MM_UNLIKELY(__atomic_exchange_n(&state_, 0, __ATOMIC_RELEASE) == 2)) wake();
  }
  // After fork the child owns every lock its prepare handler took; this frees one
  // whatever its state (the waiters, if any, are gone with their threads).
  void reset_in_child() {
    MM_DEBUG_ONLY(if (__atomic_load_n(&state_, __ATOMIC_RELAXED)) witness_release(rank_));
    __atomic_store_n(&state_, 0, __ATOMIC_RELAXED);
  }
  LockRank rank() const { return rank_; }

 private:
  void lock_slow();
  void wake();
  uint32_t state_ = 0;
  LockRank rank_;
};

// Contention, for the statistics: acquisitions that found the lock taken (and
// spun), and futex waits among them.
extern uint64_t g_lock_waits;
extern uint64_t g_lock_sleeps;

class LockGuard {
 public:
  explicit LockGuard(Lock& l) : l_(l) { l_.lock(); }
  ~LockGuard() { l_.unlock(); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  Lock& l_;
};

}  // namespace mm
