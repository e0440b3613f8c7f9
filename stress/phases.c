/* A server that changes phases: ten phases, each with its own mix of sizes
 * (small, medium, large, mixed), allocates about 200 MB while the previous
 * phase's blocks are freed; 5% of each phase's blocks survive to the end.
 * Usage: phases [mb_per_phase=200] [phase_ms=0] [trace_file]
 * phase_ms: each phase lasts at least this long (it sleeps the rest), as a
 * server's phases last seconds, not milliseconds.
 * First stdout line: final RSS / live bytes. With a trace file, writes
 * "milliseconds rss_mib live_mib" about every 10 ms to it (for the plot of RSS over
 * time). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static size_t rss_bytes(void) {
  char buf[256];
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char* p = strchr(buf, ' ');
  return p ? (size_t)strtoul(p + 1, NULL, 10) * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

static uint64_t g_s = 99;
static uint64_t rnd(void) {
  g_s ^= g_s << 13;
  g_s ^= g_s >> 7;
  g_s ^= g_s << 17;
  return g_s;
}

/* Size ranges per phase: [lo, hi) bytes, uniform. */
static const size_t kLo[10] = {16, 300, 16, 4096, 1000, 64, 20000, 16, 100000, 500};
static const size_t kHi[10] = {256, 1024, 4096, 32768, 8000, 512, 200000, 65536, 1000000, 3000};

/* Writes "ms rss_mib live_mib" when at least min_ms passed since the last line. */
static void sample(FILE* trace, const struct timespec* t0, size_t live, double min_ms) {
  static double last = -1e9;
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  double ms = (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
  if (ms - last < min_ms) return;
  last = ms;
  fprintf(trace, "%.0f %.1f %.1f\n", ms, (double)rss_bytes() / 1048576.0, (double)live / 1048576.0);
}

typedef struct {
  char** p;
  size_t* n;
  size_t count;
} Phase;

/* Block i of a phase that ends: one in 20 survives (moves to keep), the rest is
 * freed. Returns the bytes freed. */
static size_t retire(Phase* ph, size_t i, Phase* keep, size_t keep_cap) {
  if (rnd() % 20 == 0 && keep->count < keep_cap) {
    keep->p[keep->count] = ph->p[i];
    keep->n[keep->count++] = ph->n[i];
    return 0;
  }
  free(ph->p[i]);
  return ph->n[i];
}

int main(int argc, char** argv) {
  size_t per_phase = (argc > 1 ? strtoul(argv[1], NULL, 10) : 200) << 20;
  long phase_ms = argc > 2 ? atol(argv[2]) : 0;
  FILE* trace = argc > 3 ? fopen(argv[3], "w") : NULL;
  struct timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  Phase prev = {0}, keep = {0};
  size_t keep_cap = 1 << 20, live = 0, ops = 0;
  keep.p = malloc(keep_cap * sizeof(char*));
  keep.n = malloc(keep_cap * sizeof(size_t));
  for (int ph = 0; ph < 10; ++ph) {
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    size_t avg = (kLo[ph] + kHi[ph]) / 2, cap = 2 * per_phase / avg + 1024;
    Phase cur = {malloc(cap * sizeof(char*)), malloc(cap * sizeof(size_t)), 0};
    size_t bytes = 0, freed = 0;
    while (bytes < per_phase && cur.count < cap) {
      size_t n = kLo[ph] + rnd() % (kHi[ph] - kLo[ph]);
      char* b = malloc(n);
      if (!b) return 1;
      memset(b, ph, n < 4096 ? n : 4096);
      cur.p[cur.count] = b;
      cur.n[cur.count++] = n;
      bytes += n;
      live += n;
      /* Free the previous phase as this one grows: one of its blocks per new one. */
      if (freed < prev.count) {
        size_t i = freed++;
        live -= retire(&prev, i, &keep, keep_cap);
      }
      if (trace && ++ops % 256 == 0) sample(trace, &t0, live, 10);
    }
    for (size_t i = freed; i < prev.count; ++i) {
      live -= retire(&prev, i, &keep, keep_cap);
    }
    free(prev.p);
    free(prev.n);
    prev = cur;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long spent = (t.tv_sec - start.tv_sec) * 1000 + (t.tv_nsec - start.tv_nsec) / 1000000;
    for (; spent < phase_ms; spent += 50) { /* idle, sampled every 50 ms */
      long step = phase_ms - spent < 50 ? phase_ms - spent : 50;
      struct timespec rest = {0, step * 1000000};
      nanosleep(&rest, NULL);
      if (trace) sample(trace, &t0, live, 0);
    }
  }
  /* The last phase ends too: its survivors stay, the rest is freed. */
  for (size_t i = 0; i < prev.count; ++i) {
    live -= retire(&prev, i, &keep, keep_cap);
  }
  free(prev.p);
  free(prev.n);
  size_t rss = rss_bytes();
  if (trace) {
    sample(trace, &t0, live, 0);
    fclose(trace);
  }
  printf("%.3f\n", (double)rss / (double)live);
  return 0;
}
