/* Where freed memory goes, tried as a server's users meet it: freed memory must be
 * usable by every tier (never pinned by a live block), given back to the OS, and
 * not left behind by exited threads. Each case prints its figure on stderr and
 * fails above its bound; the same program runs under glibc as the reference.
 * Usage: memory_return <case> [args] */
#include <malloc.h>
#include <pthread.h>
#include <time.h>

#include "regress.h"

static void limit_to(size_t bytes) {
  struct rlimit rl = {bytes, bytes};
  if (setrlimit(RLIMIT_DATA, &rl) != 0) fail("setrlimit");
}

static void unlimit(void) {
  struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
  setrlimit(RLIMIT_DATA, &rl);
}

/* Pointer arrays come from mmap so that they are not part of what is measured. */
#include <sys/mman.h>
static void** table(size_t n) {
  void** t =
      mmap(NULL, n * sizeof(void*), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (t == MAP_FAILED) fail("mmap");
  memset(t, 0, n * sizeof(void*));
  return t;
}

/* Fill the heap up to a data limit with fill-size blocks, keep one pin-size block,
 * free the rest: eight requests of req bytes must all be served. */
static void pinned(size_t fill_size, size_t pin_size, size_t req) {
  const size_t max = 1 << 20;
  void** t = table(max);
  limit_to(vmdata_bytes() + (32 << 20));
  size_t n = 0;
  while (n < max && (t[n] = malloc(fill_size)) != NULL) memset(t[n++], 1, 64);
  void* pin = malloc(pin_size);
  for (size_t i = 0; i < n; ++i) free(t[i]);
  int ok = 0;
  for (int i = 0; i < 8; ++i) {
    void* p = malloc(req);
    if (p) {
      memset(p, 2, req);
      ++ok;
    }
  }
  say_num("filled_blocks=", n);
  say_num("served_of_8=", (size_t)ok);
  (void)pin;
  if (ok != 8) fail("freed memory is pinned");
}

/* 64 threads fill the heap under a limit, free everything and wait; main then
 * asks for large blocks while they are still alive. */
#define PIN_THREADS 64
static pthread_barrier_t g_bar;
static void* pin_worker(void* arg) {
  (void)arg;
  void* mine[512];
  int n = 0;
  pthread_barrier_wait(&g_bar); /* the limit is set */
  while (n < 512 && (mine[n] = malloc(4000)) != NULL) memset(mine[n++], 3, 64);
  pthread_barrier_wait(&g_bar);
  for (int i = 0; i < n; ++i) free(mine[i]);
  pthread_barrier_wait(&g_bar); /* all freed */
  pthread_barrier_wait(&g_bar); /* main has asked */
  return NULL;
}
static void pinned_threads(void) {
  pthread_t th[PIN_THREADS];
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 << 10);
  pthread_barrier_init(&g_bar, NULL, PIN_THREADS + 1);
  for (int i = 0; i < PIN_THREADS; ++i)
    if (pthread_create(&th[i], &attr, pin_worker, NULL)) fail("pthread_create");
  limit_to(vmdata_bytes() + (32 << 20));
  pthread_barrier_wait(&g_bar);
  pthread_barrier_wait(&g_bar);
  pthread_barrier_wait(&g_bar);
  int ok = 0;
  void* got[8];
  for (int i = 0; i < 8; ++i)
    if ((got[i] = malloc(300000)) != NULL) ++ok;
  pthread_barrier_wait(&g_bar);
  for (int i = 0; i < PIN_THREADS; ++i) pthread_join(th[i], NULL);
  say_num("served_of_8=", (size_t)ok);
  if (ok != 8) fail("memory freed by threads is pinned");
  for (int i = 0; i < 8; ++i) free(got[i]);
}

/* Under a data limit, fill the heap until malloc fails, free it all: threads (whose
 * stacks are mappings charged to the same limit) can then be created. */
static void* idle(void* arg) { return arg; }
static void threads_after_free(void) {
  const size_t max = 1 << 16;
  void** t = table(max);
  limit_to(vmdata_bytes() + (32 << 20));
  size_t n = 0;
  while (n < max && (t[n] = malloc(65536)) != NULL) memset(t[n++], 1, 65536);
  for (size_t i = 0; i < n; ++i) free(t[i]);
  int ok = 0;
  pthread_t th[2];
  for (int i = 0; i < 2; ++i) /* 8 MiB stacks each, the default */
    if (pthread_create(&th[i], NULL, idle, NULL) == 0) ++ok;
  for (int i = 0; i < ok; ++i) pthread_join(th[i], NULL);
  say_num("threads_created_of_2=", (size_t)ok);
  if (ok != 2) fail("freed memory still charged to the data limit");
}

/* 256 MiB in blocks of one size, all freed: RSS growth two seconds later, after
 * one more malloc/free pair, and after malloc_trim(0). */
static void back_to_os(size_t size, size_t bound_later_mb, size_t bound_trim_mb) {
  size_t n = (256u << 20) / size;
  void** t = table(n);
  size_t base = rss_bytes();
  for (size_t i = 0; i < n; ++i) {
    t[i] = xmalloc(size);
    memset(t[i], 4, size < 4096 ? size : 4096);
    for (size_t k = 4096; k < size; k += 4096) ((char*)t[i])[k] = 4;
  }
  size_t peak = rss_bytes();
  for (size_t i = 0; i < n; ++i) free(t[i]);
  size_t now = rss_bytes();
  struct timespec ts = {2, 0};
  nanosleep(&ts, NULL);
  free(xmalloc(size));
  size_t later = rss_bytes();
  malloc_trim(0);
  size_t trimmed = rss_bytes();
  say_num("peak_growth_mb=", (peak - base) >> 20);
  say_num("growth_at_free_mb=", now > base ? (now - base) >> 20 : 0);
  say_num("growth_2s_later_mb=", later > base ? (later - base) >> 20 : 0);
  say_num("growth_after_trim_mb=", trimmed > base ? (trimmed - base) >> 20 : 0);
  if (later > base + (bound_later_mb << 20)) fail("freed memory kept two seconds later");
  if (trimmed > base + (bound_trim_mb << 20)) fail("freed memory kept after malloc_trim");
}

/* 128 MiB of first-size blocks freed, then 128 MiB of second-size blocks: RSS over
 * the live bytes, in hundredths. */
static void reuse(size_t first, size_t second, size_t bound_pct) {
  const size_t total = 128u << 20;
  size_t n1 = total / first, n2 = total / second;
  void** t = table(n1 > n2 ? n1 : n2);
  size_t base = rss_bytes();
  for (size_t i = 0; i < n1; ++i) memset(t[i] = xmalloc(first), 5, first);
  for (size_t i = 0; i < n1; ++i) free(t[i]);
  for (size_t i = 0; i < n2; ++i) memset(t[i] = xmalloc(second), 6, second);
  size_t pct = (rss_bytes() - base) * 100 / total;
  say_num("rss_over_live_pct=", pct);
  if (pct > bound_pct) fail("freed memory not reused by the other tier");
}

/* 64 threads, each 50 rounds of 2000 blocks of 16..4000 B, then exit. */
static void* exit_worker(void* arg) {
  uint64_t s = (uintptr_t)arg * 0x9e3779b97f4a7c15u + 1;
  void* v[2000];
  for (int r = 0; r < 50; ++r) {
    for (int i = 0; i < 2000; ++i) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      size_t n = 16 + s % 3985;
      memset(v[i] = xmalloc(n), 7, n < 64 ? n : 64);
    }
    for (int i = 0; i < 2000; ++i) free(v[i]);
  }
  return NULL;
}
static void exited_threads(size_t bound_mb) {
  size_t base = rss_bytes();
  pthread_t th[64];
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 16; ++i)
      if (pthread_create(&th[i], NULL, exit_worker, (void*)(uintptr_t)(round * 16 + i + 1)))
        fail("pthread_create");
    for (int i = 0; i < 16; ++i) pthread_join(th[i], NULL);
  }
  free(xmalloc(100));
  size_t kept = rss_bytes() > base ? rss_bytes() - base : 0;
  say_num("kept_after_exit_mb=", kept >> 20);
  if (kept > (bound_mb << 20)) fail("exited threads left memory behind");
}

int main(int argc, char** argv) {
  if (argc < 2) fail("usage: memory_return <case>");
  const char* c = argv[1];
  size_t a = argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
  if (!strcmp(c, "pinned_64k"))
    pinned(65536, 5000, 300000);
  else if (!strcmp(c, "pinned_64k_1m"))
    pinned(65536, 5000, 1000000);
  else if (!strcmp(c, "pinned_4000"))
    pinned(4000, 4000, 300000);
  else if (!strcmp(c, "pinned_threads"))
    pinned_threads();
  else if (!strcmp(c, "threads_after_free"))
    threads_after_free();
  else if (!strcmp(c, "back_to_os"))
    back_to_os(a, 24, 8);
  else if (!strcmp(c, "reuse_16k_64"))
    reuse(16384, 64, 125);
  else if (!strcmp(c, "reuse_16k_200k"))
    reuse(16384, 200000, 125);
  else if (!strcmp(c, "exited_threads"))
    exited_threads(12);
  else
    fail("unknown case");
  unlimit();
  return 0;
}
