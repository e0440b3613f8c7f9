#include "parked_cache.h"

#include "../common/tuning.h"
#include "../meta/meta.h"
#include "../os/os.h"

namespace mm {

namespace {
Lock g_park_lock{LockRank::kParked};
ParkedCache* g_parked = nullptr;
uint32_t g_parked_count = 0;  // read without the lock: a hint
// When the oldest parked cache was parked, read without the lock: the malloc slow
// path looks at it on every call, and takes the lock only when one is due (taking
// it every time cost larson 3% at two threads, whose threads park and adopt often).
uint32_t g_oldest_ms = 0;
MetaPool<ParkedCache> g_park_pool;

void set_count(uint32_t n) { __atomic_store_n(&g_parked_count, n, __ATOMIC_RELAXED); }
}  // namespace

bool any_parked() { return __atomic_load_n(&g_parked_count, __ATOMIC_RELAXED) != 0; }
Lock& parked_lock() { return g_park_lock; }

bool park_bins(Bin* bins) {
  if (__atomic_load_n(&g_parked_count, __ATOMIC_RELAXED) >= kMaxParked) return false;
  LockGuard g(g_park_lock);
  if (g_parked_count >= kMaxParked) return false;
  ParkedCache* pc = g_park_pool.alloc();
  if (!pc) return false;
  for (uint32_t bin = 0; bin < kNumBins; ++bin) {
    pc->bins[bin] = bins[bin];
    bins[bin] = Bin::none();
  }
  pc->parked_ms = os::now_ms();
  if (!g_parked) __atomic_store_n(&g_oldest_ms, pc->parked_ms, __ATOMIC_RELAXED);
  pc->next = g_parked;
  g_parked = pc;
  set_count(g_parked_count + 1);
  return true;
}

ParkedCache* take_parked() {
  if (!any_parked()) return nullptr;
  LockGuard g(g_park_lock);
  ParkedCache* pc = g_parked;
  if (pc) {
    g_parked = pc->next;
    set_count(g_parked_count - 1);
  }
  return pc;
}

ParkedCache* take_aged_parked() {
  if (!any_parked()) return nullptr;
  uint32_t now = os::now_ms();
  if (now - __atomic_load_n(&g_oldest_ms, __ATOMIC_RELAXED) < kParkedMaxMs) return nullptr;
  ParkedCache* aged = nullptr;
  LockGuard g(g_park_lock);
  uint32_t oldest = now;
  for (ParkedCache** at = &g_parked; *at;) {
    if (now - (*at)->parked_ms < kParkedMaxMs) {
      if (static_cast<int32_t>((*at)->parked_ms - oldest) < 0) oldest = (*at)->parked_ms;
      at = &(*at)->next;
      continue;
    }
    ParkedCache* pc = *at;
    *at = pc->next;
    pc->next = aged;
    aged = pc;
    set_count(g_parked_count - 1);
  }
  __atomic_store_n(&g_oldest_ms, oldest, __ATOMIC_RELAXED);
  return aged;
}

void free_parked(ParkedCache* pc) {
  LockGuard g(g_park_lock);
  g_park_pool.free(pc);
}

size_t parked_bytes() {
  size_t total = 0;
  LockGuard g(g_park_lock);
  for (ParkedCache* pc = g_parked; pc; pc = pc->next) total += bins_bytes(pc->bins);
  return total;
}

void parked_counts(ClassCounts* out) {
  LockGuard g(g_park_lock);
  for (ParkedCache* pc = g_parked; pc; pc = pc->next)
    for (uint32_t bin = 1; bin < kNumBins; ++bin) out[bin].cached += pc->bins[bin].count();
}

}  // namespace mm
