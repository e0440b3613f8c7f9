// Process-wide state: lazy initialisation (safe to reach from any first call), the
// per-process secret, and the fork handlers, which take every lock of the
// allocator in rank order (common/lock.h) from one table.
#pragma once
#include "../common/common.h"

namespace mm {

extern bool g_inited;
void init_slow();
MM_INLINE void ensure_init() {
  if (MM_UNLIKELY(!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE))) init_slow();
}

}  // namespace mm
