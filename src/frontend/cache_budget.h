// Bin limits and the per-thread byte budgets of the thread caches: slow start,
// limit taken from other bins of a budget group, limits lowered (thread_cache.h).
#pragma once
#include "thread_cache.h"

namespace mm {

// Lowers a bin's limit by dec and moves down what no longer fits under it.
void lower_limit(ThreadCache* tc, uint32_t bin, uint32_t dec);
// Slow start: raises a bin's limit after a refill or an overflow (overflow), within
// its cap and its group's budget (taking budget from other bins when it is full).
void grow_max(ThreadCache* tc, Bin& b, uint32_t bin, bool overflow);
// Lowers the largest limits until both groups are within their budgets.
void trim_to_budget(ThreadCache* tc);

}  // namespace mm
