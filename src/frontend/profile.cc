// The heap profiler (profile.h): samples, their stacks, heap profiles in the
// legacy gperftools text format ("heap_v2"), the leak report at exit.
#include "profile.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include "../common/config.h"
#include "../common/lock.h"
#include "../meta/meta.h"
#include "../os/stack.h"
#include "medium_backend.h"
#include "thread_cache.h"

namespace mm {

namespace {
constexpr int64_t kNeverSample = INT64_MAX;
constexpr size_t kTableSize = 4096;  // stack buckets' hash heads

// One call stack: what was sampled there, ever and still live.
struct Bucket {
  Bucket* next;  // hash chain
  uint64_t hash;
  uint64_t allocs, alloc_bytes;  // samples ever taken here (requested bytes)
  uint64_t live, live_bytes;     // of which not freed yet
  double estimate;               // scratch for the leak report: estimated live bytes
  uint32_t depth;
  uintptr_t pcs[];  // depth return addresses, innermost first
};

// One live sampled block.
struct Sample {
  Sample* next;
  Sample* prev;
  Bucket* bucket;
  size_t size;  // requested bytes
};

Lock g_lock{LockRank::kProfile};  // guards everything below
Bucket* g_table[kTableSize];
Sample g_live{&g_live, &g_live, nullptr, 0};  // circular list of live samples
MetaPool<Sample> g_samples;
uint32_t g_dump_seq;
bool g_dump_pending;  // the dump signal came while the lock was taken
__thread bool t_busy __attribute__((tls_model("initial-exec")));  // inside the profiler

bool enabled() { return g_config.prof[0] || g_config.leaks; }

// ln(x) for 0 < x <= 1, without libm: x = m * 2^e with m in [1, 2), and
// ln(m) = 2 atanh((m - 1) / (m + 1)) by its series (error below 1e-6).
double log_unit(double x) {
  uint64_t bits;
  __builtin_memcpy(&bits, &x, 8);
  int e = static_cast<int>((bits >> 52) & 0x7ff) - 1023;
  bits = (bits & ((uint64_t{1} << 52) - 1)) | (uint64_t{1023} << 52);
  double m;
  __builtin_memcpy(&m, &bits, 8);
  double t = (m - 1) / (m + 1), t2 = t * t;
  double ln_m = 2 * t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 / 9))));
  return ln_m + e * 0.6931471805599453;
}

// exp(-r) for r >= 0: 2^-k * exp(-f) with f < ln 2, by its series.
double exp_neg(double r) {
  if (r > 700) return 0;
  int k = static_cast<int>(r / 0.6931471805599453);
  double f = r - k * 0.6931471805599453, term = 1, sum = 1;
  for (int i = 1; i < 14; ++i) sum += (term *= -f / i);
  uint64_t bits = static_cast<uint64_t>(1023 - k) << 52;  // 2^-k
  double scale;
  __builtin_memcpy(&scale, &bits, 8);
  return sum * scale;
}

// Bytes to the next sample: exponential with mean MYMALLOC_PROF_SAMPLE.
int64_t next_interval(ThreadCache* tc) {
  uint64_t& x = tc->sample_rng;
  if (!x) x = (g_secret ^ reinterpret_cast<uintptr_t>(tc) ^ __builtin_ia32_rdtsc()) | 1;
  x ^= x << 13;  // xorshift64
  x ^= x >> 7;
  x ^= x << 17;
  double u = static_cast<double>((x >> 11) + 1) * (1.0 / 9007199254740992.0);  // (0, 1]
  double d = -log_unit(u) * static_cast<double>(g_config.prof_sample);
  return d < 1 ? 1 : d > 1e15 ? static_cast<int64_t>(1e15) : static_cast<int64_t>(d);
}

// The probability-weighted size of a sample: its expected share of the real total.
double weight(size_t size) {
  double r = static_cast<double>(size) / static_cast<double>(g_config.prof_sample);
  return 1 / (1 - exp_neg(r));
}

Bucket* bucket_for(const uintptr_t* pcs, int depth) {
  uint64_t h = 0xcbf29ce484222325u;
  for (int i = 0; i < depth; ++i) h = (h ^ pcs[i]) * 0x100000001b3u;
  Bucket** head = &g_table[h % kTableSize];
  for (Bucket* b = *head; b; b = b->next)
    if (b->hash == h && b->depth == static_cast<uint32_t>(depth) &&
        __builtin_memcmp(b->pcs, pcs, sizeof(uintptr_t) * static_cast<size_t>(depth)) == 0)
      return b;
  auto* b = static_cast<Bucket*>(
      meta_alloc(sizeof(Bucket) + sizeof(uintptr_t) * static_cast<size_t>(depth)));
  if (!b) return nullptr;
  b->hash = h;
  b->depth = static_cast<uint32_t>(depth);
  __builtin_memcpy(b->pcs, pcs, sizeof(uintptr_t) * static_cast<size_t>(depth));
  b->next = *head;
  *head = b;
  return b;
}

// Memory for the dumps' scratch arrays, straight from the kernel: a dump may run
// in a signal handler.
template <class T>
T* scratch(size_t n) {
  void* p =
      mmap(nullptr, n * sizeof(T) + 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : static_cast<T*>(p);
}
template <class T>
void scratch_free(T* p, size_t n) {
  if (p) munmap(p, n * sizeof(T) + 1);
}

ProfTotals totals_locked() {
  ProfTotals t{};
  for (Bucket* const& head : g_table)
    for (Bucket* b = head; b; b = b->next) {
      t.live += b->live;
      t.live_bytes += b->live_bytes;
      t.allocs += b->allocs;
      t.alloc_bytes += b->alloc_bytes;
    }
  return t;
}

void write_stack(Out& out, const Bucket* b) {
  out.str(" @");
  for (uint32_t i = 0; i < b->depth; ++i) out.str(" ").hex(b->pcs[i], 0);
  out.str("\n");
}

// The profile, lock held: a header with the totals and the sampling period, one
// line per (stack, size) of the live samples (pprof scales each line by its own
// size's probability), one per stack with its samples ever taken, then the
// process's mappings, which pprof needs to find the symbols.
void write_profile(int fd) {
  Out out(fd);
  ProfTotals t = totals_locked();
  size_t n = t.live;  // every live sample is counted in its bucket
  Sample** v = scratch<Sample*>(n);
  if (v) {
    size_t i = 0;
    for (Sample* s = g_live.next; s != &g_live && i < n; s = s->next) v[i++] = s;
    std::sort(v, v + n, [](const Sample* a, const Sample* b) {
      return a->bucket != b->bucket ? a->bucket < b->bucket : a->size < b->size;
    });
  }
  out.str("heap profile: ")
      .num(t.live)
      .str(": ")
      .num(t.live_bytes)
      .str(" [")
      .num(t.allocs)
      .str(": ");
  out.num(t.alloc_bytes).str("] @ heap_v2/").num(g_config.prof_sample).str("\n");
  for (size_t i = 0; v && i < n;) {
    size_t j = i;
    while (j < n && v[j]->bucket == v[i]->bucket && v[j]->size == v[i]->size) ++j;
    out.num(j - i).str(": ").num((j - i) * v[i]->size).str(" [0: 0]");
    write_stack(out, v[i]->bucket);
    i = j;
  }
  scratch_free(v, n);
  for (Bucket* const& head : g_table)
    for (Bucket* b = head; b; b = b->next) {
      out.str("0: 0 [").num(b->allocs).str(": ").num(b->alloc_bytes).str("]");
      write_stack(out, b);
    }
  out.str("\nMAPPED_LIBRARIES:\n");
  int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (maps >= 0) {
    char buf[4096];
    for (ssize_t r; (r = read(maps, buf, sizeof buf)) > 0;) out.str_n(buf, static_cast<size_t>(r));
    close(maps);
  }
}

// <prefix>.<pid>.heap at exit, <prefix>.<pid>.<seq>.heap otherwise; lock held.
bool dump_locked(bool at_exit) {
  if (!g_config.prof[0]) return false;
  char path[320];
  size_t len = 0;
  auto put = [&](const char* s) {
    while (*s && len + 1 < sizeof path) path[len++] = *s++;
  };
  char num[24];
  auto put_num = [&](uint64_t v) { put(format_num(num + sizeof num - 1, v)); };
  put(g_config.prof);
  put(".");
  put_num(static_cast<uint64_t>(getpid()));
  if (!at_exit) put("."), put_num(g_dump_seq++);
  put(".heap");
  path[len] = 0;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    Out(2).str("mymalloc: cannot write the heap profile ").str(path).str("\n");
    return false;
  }
  write_profile(fd);
  close(fd);
  return true;
}

void unlock_and_dump_pending() {
  while (true) {
    bool pending = __atomic_exchange_n(&g_dump_pending, false, __ATOMIC_ACQ_REL);
    if (pending) dump_locked(false);
    g_lock.unlock();
    if (!__atomic_load_n(&g_dump_pending, __ATOMIC_ACQUIRE) || !g_lock.try_lock()) return;
  }
}

void on_dump_signal(int) {
  ErrnoKeeper keep;
  __atomic_store_n(&g_dump_pending, true, __ATOMIC_RELEASE);
  if (g_lock.try_lock()) unlock_and_dump_pending();  // else the holder dumps when it unlocks
}
}  // namespace

bool prof_enabled() { return enabled(); }
Lock& prof_lock() { return g_lock; }

ProfTotals prof_totals() {
  LockGuard g(g_lock);
  return totals_locked();
}

void prof_start() {
  if (!enabled()) return;
  if (!stack_init())
    write_err("mymalloc: heap profiling without call stacks: libgcc_s.so.1 not found\n");
  if (int sig = static_cast<int>(g_config.prof_signal)) {
    struct sigaction sa = {};
    sa.sa_handler = on_dump_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
  }
}

void* prof_sample_alloc(size_t n) {
  ThreadCache* tc = &t_cache;
  ensure_init();
  if (!enabled()) {
    tc->sample_left = kNeverSample;
    return nullptr;
  }
  tc->sample_left = next_interval(tc);
  if (t_busy) return nullptr;
  t_busy = true;
  uintptr_t pcs[kMaxFrames];
  int depth = stack_capture(pcs, kMaxFrames);
  Span* span;
  {
    ErrnoKeeper keep;  // on failure the usual path retries, and sets errno if it fails too
    span = large_alloc_exact(n);
  }
  if (span) {
    count_fetched(active_cache(), kClsLarge, 1);
    g_lock.lock();
    Bucket* b = bucket_for(pcs, depth);
    Sample* s = b ? g_samples.alloc() : nullptr;
    if (s) {
      s->bucket = b;
      s->size = n;
      s->next = g_live.next;
      s->prev = &g_live;
      g_live.next->prev = s;
      g_live.next = s;
      ++b->allocs, b->alloc_bytes += n;
      ++b->live, b->live_bytes += n;
      span->sample = s;
    }
    unlock_and_dump_pending();
  }
  t_busy = false;
  return span ? span->base() : nullptr;
}

void prof_free(Span* span) {
  auto* s = static_cast<Sample*>(span->sample);
  span->sample = nullptr;
  g_lock.lock();
  s->prev->next = s->next;
  s->next->prev = s->prev;
  --s->bucket->live;
  s->bucket->live_bytes -= s->size;
  g_samples.free(s);
  unlock_and_dump_pending();
}

size_t prof_usable_size(const Span* s) {
  size_t n = static_cast<const Sample*>(s->sample)->size;
  return n ? align_up(n, 16) : 16;
}

bool prof_dump() {
  if (!g_config.prof[0]) return false;
  g_lock.lock();
  bool ok = dump_locked(false);
  unlock_and_dump_pending();
  return ok;
}

namespace {
// The leak report: live samples grouped by stack, the largest estimate first;
// left out are blocks the C library allocated for itself (stdio buffers) and
// samples without a stack (taken at start-up, before the unwinder was ready).
void report_leaks() {
  size_t nb = 0;
  for (Bucket* const& head : g_table)
    for (Bucket* b = head; b; b = b->next) {
      b->estimate = 0;
      nb += b->live != 0;
    }
  for (Sample* s = g_live.next; s != &g_live; s = s->next)
    s->bucket->estimate += static_cast<double>(s->size) * weight(s->size);
  Bucket** v = scratch<Bucket*>(nb);
  if (!v) return;
  size_t n = 0;
  double total = 0;
  for (Bucket* const& head : g_table)
    for (Bucket* b = head; b; b = b->next)
      if (b->live && b->depth && !stack_libc_internal(b->pcs[0])) {
        v[n++] = b;
        total += b->estimate;
      }
  std::sort(v, v + n, [](const Bucket* a, const Bucket* b) { return a->estimate > b->estimate; });
  Out out(2);
  auto prefix = [&] { out.str("mymalloc[").num(static_cast<uint64_t>(getpid())).str("]: "); };
  if (n) {
    prefix();
    out.str("leak report: about ")
        .num(static_cast<uint64_t>(total))
        .str(" bytes still allocated at exit");
    out.str(", from ").num(n).str(n == 1 ? " call stack" : " call stacks");
    out.str(" (estimated from samples, one per ")
        .num(g_config.prof_sample)
        .str(" bytes allocated)\n");
  }
  for (size_t i = 0; i < n && i < 20; ++i) {
    prefix();
    out.str("about ").num(static_cast<uint64_t>(v[i]->estimate)).str(" bytes (");
    out.num(v[i]->live).str(v[i]->live == 1 ? " sample" : " samples").str(") allocated at:\n");
    for (uint32_t f = 0; f < v[i]->depth; ++f) {
      prefix();
      out.str("    #").num(f).str(" ");
      stack_describe(out, v[i]->pcs[f]);
      out.str("\n");
    }
  }
  if (n > 20) prefix(), out.str("... and ").num(n - 20).str(" more call stacks\n");
  scratch_free(v, nb);
}

__attribute__((destructor)) void prof_at_exit() {
  if (!enabled()) return;
  t_busy = true;  // nothing the report does is sampled
  g_lock.lock();
  dump_locked(true);
  if (g_config.leaks) report_leaks();
  g_lock.unlock();
}
}  // namespace

}  // namespace mm
