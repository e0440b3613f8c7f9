/* Fragmentation and footprint: phases of random sizes (16 B .. 64 KiB), frees of
 * random halves, and regrowth with larger sizes; reports peak RSS against the peak
 * of live bytes. Usage: footprint [blocks=200000]
 * First stdout line: peak RSS / peak live bytes (1.00 is perfect). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char** argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200000;
  char** b = calloc((size_t)n, sizeof(char*));
  size_t* len = calloc((size_t)n, sizeof(size_t));
  uint64_t s = 42;
  size_t live = 0, peak = 0;
  for (int phase = 0; phase < 6; ++phase) {
    for (int i = 0; i < n; ++i) {
      if (b[i]) continue;
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      size_t sz = s % 16 == 0 ? 1024 + s % (64 * 1024) : 16 + (s >> 8) % (200 + phase * 100);
      b[i] = malloc(sz);
      memset(b[i], 1, sz);
      len[i] = sz;
      live += sz;
    }
    if (live > peak) peak = live;
    for (int i = 0; i < n; ++i) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      if (s % 2) {
        free(b[i]);
        b[i] = NULL;
        live -= len[i];
      }
    }
  }
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  printf("%.3f\n", (double)ru.ru_maxrss * 1024.0 / (double)peak);
  printf("peak live %zu KiB, peak RSS %ld KiB\n", peak / 1024, ru.ru_maxrss);
  return 0;
}
