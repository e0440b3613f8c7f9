#include "parked_cache.h"

#include "../common/tuning.h"
#include "../meta/meta.h"
#include "../os/os.h"

namespace mm {

namespace {
Lock g_park_lock{LockRank::kParked};
ParkedCache* g_parked = nullptr;
uint32_t g_parked_count = 0;  // read without the lock: a hint
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
    bins[bin] = Bin{nullptr, 0, 0};
  }
  pc->parked_ms = os::now_ms();
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
  ParkedCache* aged = nullptr;
  LockGuard g(g_park_lock);
  for (ParkedCache** at = &g_parked; *at;) {
    if (now - (*at)->parked_ms < kParkedMaxMs) {
      at = &(*at)->next;
      continue;
    }
    ParkedCache* pc = *at;
    *at = pc->next;
    pc->next = aged;
    aged = pc;
    set_count(g_parked_count - 1);
  }
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

}  // namespace mm
