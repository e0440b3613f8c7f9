#include <sys/auxv.h>

#include "common.h"

namespace mm {

uintptr_t g_secret = 0x9e3779b97f4a7c15;
uintptr_t g_token_secret = 0xc2b2ae3d27d4eb4f;

void secret_init() {
  // 16 bytes of kernel randomness the loader received for this process (no
  // system call, nothing to fail); an address mixed in for a kernel without it.
  uintptr_t mix = reinterpret_cast<uintptr_t>(&g_secret) * 0x2545f4914f6cdd1d;
  uintptr_t r = g_secret ^ mix, t = g_token_secret ^ (mix >> 7);
  if (const auto* rnd = reinterpret_cast<const uint64_t*>(getauxval(AT_RANDOM))) {
    r ^= rnd[0];
    t ^= rnd[1];
  }
  __atomic_store_n(&g_secret, r | 1, __ATOMIC_RELAXED);  // never zero
  __atomic_store_n(&g_token_secret, t | 1, __ATOMIC_RELAXED);
}

}  // namespace mm
