#include "pressure.h"

#include "../page/page_heap.h"
#include "medium_backend.h"
#include "process.h"
#include "small_backend.h"
#include "thread_cache.h"

namespace mm {

void relieve_pressure() {
  ensure_init();
  if (ThreadCache* tc = thread_cache_setup()) thread_cache_flush(tc);
  uint32_t epoch = __atomic_add_fetch(&g_flush_epoch, 1, __ATOMIC_RELAXED);
  if (t_cache.state == kCacheActive) t_cache.flush_epoch = epoch;
  thread_cache_flush_parked();
  small_return_transfer(false);
  medium_return_transfer(false);
  medium_trim_all();
}

void scavenge_caches() {
  if (ThreadCache* tc = thread_cache_setup()) thread_cache_scavenge(tc);
  thread_cache_flush_parked();
  small_return_transfer(true);
  medium_return_transfer(true);
}

void purge_free_memory() {
  relieve_pressure();
  LockGuard g(page_heap().lock());
  page_heap().purge_free(0);
}

}  // namespace mm
