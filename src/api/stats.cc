#include "stats.h"

#include <errno.h>
#include <unistd.h>

#include "../../include/mymalloc.h"
#include "../common/batch_stack.h"
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
      s.medium_free += m.region_bytes - m.used_bytes + m.spare_bytes;
      ++s.medium_heaps;
    }
  }
  size_t heap = ps.total_pages << kPageShift;
  size_t not_in_use =
      s.page_free + s.small_free + s.transfer_cache + s.thread_cache + s.medium_free;
  s.in_use = heap > not_in_use ? heap - not_in_use : 0;
  s.peak_mapped = (ps.peak_committed_pages << kPageShift) + s.metadata;
  s.peak_active = ps.peak_active_pages << kPageShift;
  s.lock_waits = __atomic_load_n(&g_lock_waits, __ATOMIC_RELAXED);
  s.lock_sleeps = __atomic_load_n(&g_lock_sleeps, __ATOMIC_RELAXED);
  s.transfer_retries = __atomic_load_n(&g_transfer_retries, __ATOMIC_RELAXED);
  thread_cache_counts(s.classes);
  return s;
}

namespace {
// Every line names the process, so that the summaries of a pipeline's processes
// can be told apart: "mymalloc[pid]: key value"; or one JSON object on one line.
// Written with Out: nothing here allocates.
class Printer {
 public:
  Printer(int fd, bool json) : out_(fd), json_(json) {}
  Out& out() { return out_; }
  bool json() const { return json_; }
  void prefix() { out_.str("mymalloc[").num(static_cast<uint64_t>(getpid())).str("]: "); }
  // A JSON object's members, or the text's lines, one per call.
  void open(const char* name) {
    if (json_) sep().str("\"").str(name).str("\":{");
    first_ = true;
  }
  void close() {
    if (json_) out_.str("}");
    first_ = false;
  }
  void field(const char* name, uint64_t v) {
    if (json_) {
      sep().str("\"").str(name).str("\":").num(v);
    } else {
      prefix();
      out_.str(name).str(" ").num(v).str("\n");
    }
  }
  Out& sep() {
    if (!first_) out_.str(",");
    first_ = false;
    return out_;
  }
  // A JSON string: quotes, backslashes and control characters escaped.
  void json_string(const char* s) {
    out_.str("\"");
    for (; *s; ++s) {
      unsigned char c = static_cast<unsigned char>(*s);
      if (c == '"' || c == '\\') {
        char e[2] = {'\\', static_cast<char>(c)};
        out_.str_n(e, 2);
      } else if (c < 0x20) {
        out_.str("\\u00").str(c < 0x10 ? "0" : "").num(c, 16);
      } else {
        out_.str_n(s, 1);
      }
    }
    out_.str("\"");
  }

 private:
  Out out_;
  bool json_;
  bool first_ = true;
};

__thread Printer* g_printer;  // for config_for_each's callback
void print_option(const char* name, size_t v) {
  if (g_printer->json())
    g_printer->field(name, v);
  else
    g_printer->out().str(" ").str(name).str("=").num(v);
}

void print_classes(Printer& p, const Stats& s) {
  bool json = p.json();
  if (json) p.sep().str("\"classes\":[");
  for (uint32_t c = 1; c < kNumBins + 2; ++c) {
    const ClassCounts& k = s.classes[c];
    if (!json && !k.fetched && !k.cached) continue;  // the text lists the classes used
    Out& o = p.out();
    if (json)
      o.str(c == 1 ? "{\"size\":" : ",{\"size\":");
    else
      p.prefix(), o.str("class ");
    const char* q = json ? "\"" : "";
    if (c < kNumBins)
      o.num(bin_size(c));
    else
      o.str(q).str(c == kClsMedium ? "medium" : "large").str(q);
    const char* sep = json ? ",\"" : " ";
    const char* colon = json ? "\":" : " ";
    o.str(sep).str("fetched").str(colon).num(k.fetched);
    o.str(sep).str("returned").str(colon).num(k.returned);
    o.str(sep).str("cached").str(colon).num(k.cached).str(json ? "}" : "\n");
  }
  if (json) p.out().str("]");
}
}  // namespace

void print_stats(int fd, bool json) {
  Stats s = collect_stats();
  Printer p(fd, json);
  g_printer = &p;
  const char* program = program_invocation_short_name ? program_invocation_short_name : "";
  if (json) {
    p.out().str("{\"mymalloc\":{\"version\":\"" MYMALLOC_VERSION "\",\"pid\":");
    p.out().num(static_cast<uint64_t>(getpid())).str(",\"program\":");
    p.json_string(program);
    p.out().str(",");
    p.open("options");
    config_for_each(print_option);
    p.close();
    p.open("stats");
  } else {
    p.prefix();
    p.out().str("program ").str(program).str(" version " MYMALLOC_VERSION);
    config_for_each(print_option);
    p.out().str("\n");
  }
  p.field("mapped_bytes", s.mapped);
  p.field("metadata_bytes", s.metadata);
  p.field("in_use_bytes", s.in_use);
  p.field("thread_cache_bytes", s.thread_cache);
  p.field("transfer_cache_bytes", s.transfer_cache);
  p.field("small_free_bytes", s.small_free);
  p.field("medium_heaps", s.medium_heaps);
  p.field("medium_region_bytes", s.medium_regions);
  p.field("medium_free_bytes", s.medium_free);
  p.field("large_bytes", s.large_bytes);
  p.field("page_heap_free_bytes", s.page_free);
  p.field("page_heap_released_bytes", s.page_purged);  // the printed name is kept for users
  p.field("peak_mapped_bytes", s.peak_mapped);
  p.field("peak_active_bytes", s.peak_active);
  p.close();
  p.open("contention");
  p.field("lock_waits", s.lock_waits);
  p.field("lock_sleeps", s.lock_sleeps);
  p.field("transfer_retries", s.transfer_retries);
  p.close();
  print_classes(p, s);
  if (json) p.out().str("}}");
  p.out().str(json ? "\n" : "");
  g_printer = nullptr;
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
  if (g_config.stats) print_stats(2, g_config.stats == 2);
}
}  // namespace

}  // namespace mm
