#include "pressure.h"

#include "../common/config.h"
#include "../os/os.h"
#include "../page/page_heap.h"
#include "medium_backend.h"
#include "process.h"
#include "small_backend.h"
#include "thread_cache.h"

namespace mm {

namespace {
// Every free page of the central lists' slabs and of the page heap to the OS.
void purge_all_free() {
  small_purge_free_pages(true);
  LockGuard g(page_heap().lock());
  page_heap().purge_free(0);
}
}  // namespace

void relieve_pressure() {
  ensure_init();
  if (ThreadCache* tc = thread_cache_setup()) thread_cache_flush(tc);
  uint32_t epoch = __atomic_add_fetch(&g_flush_epoch, 1, __ATOMIC_RELAXED);
  if (t_cache.state == kCacheActive) t_cache.flush_epoch = epoch;
  thread_cache_flush_parked();
  small_return_transfer(false);
  medium_return_transfer(false);
  medium_trim_all();
  // Under a data limit, free pages give their charge back too: other mappings
  // (thread stacks) need it as much as this heap does.
  if (os::data_limited()) {
    page_heap().set_limit_mode();
    purge_all_free();
  }
}

void scavenge_caches() {
  if (ThreadCache* tc = thread_cache_setup()) thread_cache_scavenge(tc);
  thread_cache_flush_parked();
  small_return_transfer(true);
  medium_return_transfer(true);
}

void purge_free_memory() {
  relieve_pressure();  // under a data limit it purged everything already
  if (!os::data_limited()) purge_all_free();
}

namespace {
uint32_t g_last_decay_ms = 0;
}  // namespace

void decay_if_due() {
  if (MM_UNLIKELY(!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE))) return;  // nothing to purge yet
  uint32_t now = os::now_ms();
  uint32_t last = __atomic_load_n(&g_last_decay_ms, __ATOMIC_RELAXED);
  if (now - last < g_config.decay_ms / 4) return;
  // One thread runs the pass; the others go on.
  if (!__atomic_compare_exchange_n(&g_last_decay_ms, &last, now, false, __ATOMIC_RELAXED,
                                   __ATOMIC_RELAXED))
    return;
  {
    LockGuard g(page_heap().lock());
    page_heap().purge_decayed();
  }
  small_purge_free_pages(false);
}

}  // namespace mm
