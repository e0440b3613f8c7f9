// Bin limits and the per-thread byte budgets (cache_budget.h).
#include "cache_budget.h"

#include "../common/config.h"
#include "../common/tuning.h"

namespace mm {

namespace {
// Slab bins are bounded by the byte budget, medium bins by bytes, but never below
// two batches, or kBigBinMinChunks chunks over 1 KiB (tuning.h).
constexpr uint32_t make_bin_cap(uint32_t bin) {
  if (is_small_class(bin)) return kSmallBinCap;
  size_t bytes = bin >= kFirstBigBin ? kBigBinBytes : kMediumBinBytes;
  uint32_t by_bytes = bin ? static_cast<uint32_t>(bytes / bin_size(bin)) : 0;
  uint32_t least = bin >= kFirstBigBin ? kBigBinMinChunks : 2 * class_info(bin).batch;
  return by_bytes > least ? by_bytes : least;
}
struct BinCaps {  // a table: grow_max runs at every refill and overflow
  uint32_t cap[kNumBins];
  constexpr BinCaps() : cap() {
    for (uint32_t b = 0; b < kNumBins; ++b) cap[b] = make_bin_cap(b);
  }
};
constexpr BinCaps kBinCaps{};
MM_INLINE uint32_t bin_cap(uint32_t bin) { return kBinCaps.cap[bin]; }

// The bins [first, end) of a budget group (budget_group).
struct BinRange {
  uint32_t first, end;
};
MM_INLINE BinRange group_bins(uint32_t group) {
  return group ? BinRange{kFirstBigBin, kNumBins} : BinRange{1, kFirstBigBin};
}

// A group's byte budget (tuning.h: kBigBudgetScale).
MM_INLINE size_t group_budget(uint32_t group) {
  return group ? g_config.tcache_bytes * kBigBudgetScale : g_config.tcache_bytes;
}

}  // namespace

// Lowers a bin's limit by dec, and with it its group's sum, and moves down what
// no longer fits under it.
void lower_limit(ThreadCache* tc, uint32_t bin, uint32_t dec) {
  Bin& b = tc->bins[bin];
  size_t& budget = tc->max_bytes[budget_group(bin)];
  MM_ASSERT(dec <= b.max && budget >= size_t{dec} * bin_size(bin));
  b.set_max(b.max - dec);
  budget -= size_t{dec} * bin_size(bin);
  // What no longer fits goes down in whole batches where the bin has them: the
  // transfer caches take only whole batches, and a short chain of medium chunks
  // goes through their heap (a merge and a split each).
  if (b.count() > b.max) {
    uint32_t batch = class_info(bin).batch;
    uint32_t n = (b.count() - b.max + batch - 1) / batch * batch;
    return_from_bin(tc, bin, n);
  }
}

namespace {
// The budget is full: take a batch of limit from other bins, round robin (as
// gperftools steals cache space), so that the bins in use now get the budget and
// bins that grew earlier do not keep it.
bool steal_budget(ThreadCache* tc, uint32_t except, size_t need) {
  uint32_t group = budget_group(except);
  size_t& budget = tc->max_bytes[group];
  // Nothing to take when the other bins hold less than the need (the common case
  // of one busy bin that owns the whole budget): do not walk them.
  if (budget - size_t{tc->bins[except].max} * bin_size(except) < need) return false;
  size_t freed = 0;
  // The group's bins, a bounded walk: the cursor goes on from there next time.
  BinRange r = group_bins(group);
  uint32_t& cursor = tc->steal_cursor[group];
  for (uint32_t step = 0; step < kStealSteps && freed < need; ++step) {
    cursor = (cursor + 1) % (r.end - r.first);
    uint32_t v = r.first + cursor;
    Bin& b = tc->bins[v];
    uint32_t dec = class_info(v).batch;
    // A victim keeps at least a batch of limit: below that its overflows would
    // return short batches, which the transfer caches do not take.
    if (v == except || b.max < 2 * dec) continue;
    lower_limit(tc, v, dec);
    freed += size_t{dec} * bin_size(v);
  }
  return budget + need <= group_budget(group);
}

}  // namespace

// Slow start: a bin's limit doubles up to a batch (gperftools adds one each time;
// doubling serves short-lived threads better, docs/architecture.md), then
// grows a batch at a time up to its cap, while the thread's total stays within the
// byte budget.
void grow_max(ThreadCache* tc, Bin& b, uint32_t bin, bool overflow) {
  uint32_t batch = class_info(bin).batch;
  uint32_t inc = b.max < batch ? (b.max ? b.max : 1) : batch;
  if (b.max + inc > bin_cap(bin)) return;
  size_t bytes = size_t{inc} * bin_size(bin);
  uint32_t group = budget_group(bin);
  size_t& budget = tc->max_bytes[group];
  // An overflow takes budget from other bins only up to two batches of limit (a
  // bin of objects up to 1 KiB): past that, a bin that only fills (a consumer
  // thread's) gains nothing from more room, and every steal makes a victim walk
  // a batch of its links, lines long out of the cache (producer/consumer on one
  // core: 21% of the time). Refills still take it, for bins the thread allocates
  // from.
  bool may_steal = !(overflow && group == 0 && b.max >= 2 * batch);
  if (budget + bytes > group_budget(group) && !(may_steal && steal_budget(tc, bin, bytes))) return;
  b.set_max(b.max + inc);
  budget += bytes;
  MM_ASSERT(b.max <= bin_cap(bin) && budget <= group_budget(group));
}

void trim_to_budget(ThreadCache* tc) {
  // Give back from the largest bins' tails.
  for (uint32_t group = 0; group < 2; ++group) {
    BinRange r = group_bins(group);
    while (tc->max_bytes[group] > group_budget(group)) {
      uint32_t worst = r.first;
      for (uint32_t bin = r.first + 1; bin < r.end; ++bin)
        if (size_t{tc->bins[bin].max} * bin_size(bin) >
            size_t{tc->bins[worst].max} * bin_size(worst))
          worst = bin;
      uint32_t max = tc->bins[worst].max;
      lower_limit(tc, worst, max / 2 ? max / 2 : max);
    }
  }
}

}  // namespace mm
