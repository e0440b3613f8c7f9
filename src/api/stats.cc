#include "stats.h"

#include "../common/config.h"
#include "../frontend/medium_backend.h"
#include "../frontend/pressure.h"
#include "../frontend/process.h"
#include "../frontend/small_backend.h"
#include "../frontend/thread_cache.h"
#include "../medium/heap_registry.h"
#include "../meta/meta.h"
#include "../page/page_heap.h"

namespace mm {

Stats collect_stats() {
  ensure_init();
  Stats s{};
  PageHeapStats ps = page_heap().stats();
  s.metadata = meta_bytes_mapped();
  s.mapped = (ps.total_pages << kPageShift) + s.metadata;
  s.page_free = ps.free_pages << kPageShift;
  s.page_purged = ps.purged_pages << kPageShift;
  s.page_free_spans = ps.free_spans;
  s.small_free = small_free_bytes();
  s.transfer_cache = small_transfer_bytes() + medium_transfer_bytes();
  s.thread_cache = thread_cache_bytes();
  s.large_bytes = large_bytes_in_use();
  {
    HeapRegistry& reg = heap_registry();
    LockGuard g(reg.lock());
    for (MediumHeap* h = reg.first(); h; h = h->reg_next) {
      LockGuard hg(h->lock());
      MediumHeapStats m = h->stats();
      s.medium_regions += m.region_bytes;
      s.medium_free += m.region_bytes - m.used_bytes;
      ++s.medium_heaps;
    }
  }
  size_t heap = ps.total_pages << kPageShift;
  size_t not_in_use =
      s.page_free + s.small_free + s.transfer_cache + s.thread_cache + s.medium_free;
  s.in_use = heap > not_in_use ? heap - not_in_use : 0;
  return s;
}

namespace {
void line(const char* name, size_t v) {
  write_err("mymalloc: ");
  write_err(name);
  write_err(" ");
  write_err_num(v);
  write_err("\n");
}
}  // namespace

void print_stats() {
  Stats s = collect_stats();
  line("mapped_bytes", s.mapped);
  line("metadata_bytes", s.metadata);
  line("in_use_bytes", s.in_use);
  line("thread_cache_bytes", s.thread_cache);
  line("transfer_cache_bytes", s.transfer_cache);
  line("small_free_bytes", s.small_free);
  line("medium_heaps", s.medium_heaps);
  line("medium_region_bytes", s.medium_regions);
  line("medium_free_bytes", s.medium_free);
  line("large_bytes", s.large_bytes);
  line("page_heap_free_bytes", s.page_free);
  line("page_heap_released_bytes", s.page_purged);  // the printed name is kept for users
}

size_t purge_free_memory_bytes() {
  ensure_init();
  size_t before = page_heap().stats().purged_pages;
  purge_free_memory();
  size_t after = page_heap().stats().purged_pages;
  return after > before ? (after - before) << kPageShift : 0;
}

namespace {
__attribute__((destructor)) void stats_at_exit() {
  if (g_config.stats) print_stats();
}
}  // namespace

}  // namespace mm
