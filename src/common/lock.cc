#include "lock.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tuning.h"

namespace mm {

namespace {
long futex(uint32_t* addr, int op, uint32_t val) {
  return syscall(SYS_futex, addr, op, val, nullptr, nullptr, 0);
}
}  // namespace

uint64_t g_lock_waits = 0;
uint64_t g_lock_sleeps = 0;

void Lock::lock_slow() {
  ErrnoKeeper keep;
  __atomic_fetch_add(&g_lock_waits, 1, __ATOMIC_RELAXED);
  for (int i = 0; i < kLockSpins; ++i) {
    uint32_t expected = 0;
    if (__atomic_load_n(&state_, __ATOMIC_RELAXED) == 0 &&
        __atomic_compare_exchange_n(&state_, &expected, 1, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
      return;
    __builtin_ia32_pause();
  }
  while (__atomic_exchange_n(&state_, 2, __ATOMIC_ACQUIRE) != 0) {
    __atomic_fetch_add(&g_lock_sleeps, 1, __ATOMIC_RELAXED);
    futex(&state_, FUTEX_WAIT_PRIVATE, 2);
  }
}

void Lock::wake() {
  ErrnoKeeper keep;
  futex(&state_, FUTEX_WAKE_PRIVATE, 1);
}

#if defined(MM_DEBUG)
namespace {
// Locks this thread holds, counted per rank.
__thread uint16_t t_held[static_cast<int>(LockRank::kCount)]
    __attribute__((tls_model("initial-exec")));
__thread bool t_allow_many __attribute__((tls_model("initial-exec")));
}  // namespace

void witness_acquire(LockRank r, bool try_acquire) {
  int rank = static_cast<int>(r);
  if (!try_acquire) {
    // Out of order: a lock of this rank (unless fork is taking them all) or of a
    // higher one is held already.
    for (int i = t_allow_many ? rank + 1 : rank; i < static_cast<int>(LockRank::kCount); ++i)
      MM_ASSERT(t_held[i] == 0 && "lock taken out of rank order");
  }
  ++t_held[rank];
}

void witness_release(LockRank r) {
  MM_ASSERT(t_held[static_cast<int>(r)] > 0 && "unlock of a lock this thread does not hold");
  --t_held[static_cast<int>(r)];
}

void witness_allow_many(bool on) { t_allow_many = on; }
#endif

}  // namespace mm
