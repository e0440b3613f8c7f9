// A futex mutex (Drepper, "Futexes are tricky", mutex 2): 0 free, 1 locked,
// 2 locked with waiters. It never allocates, which is why we do not use pthread_mutex
// in paths that std::atexit-style machinery could reach before libc is ready.
#pragma once
#include "common.h"

namespace mm {

class Lock {
 public:
  constexpr Lock() = default;
  MM_INLINE void lock() {
    uint32_t expected = 0;
    if (MM_LIKELY(__atomic_compare_exchange_n(&state_, &expected, 1, false, __ATOMIC_ACQUIRE,
                                              __ATOMIC_RELAXED)))
      return;
    lock_slow();
  }
  MM_INLINE bool try_lock() {
    uint32_t expected = 0;
    return __atomic_compare_exchange_n(&state_, &expected, 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
  }
  MM_INLINE void unlock() {
    if (MM_UNLIKELY(__atomic_exchange_n(&state_, 0, __ATOMIC_RELEASE) == 2)) wake();
  }
  // After fork the child owns every lock its prepare handler took; this frees one
  // whatever its state (the waiters, if any, are gone with their threads).
  void reset_in_child() { __atomic_store_n(&state_, 0, __ATOMIC_RELAXED); }

 private:
  void lock_slow();
  void wake();
  uint32_t state_ = 0;
};

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
