/* Large-block churn: 256 slots; each step frees one at random and allocates a
 * block of 4 KiB..4 MiB (log-uniform, about 150 MiB live) and touches its first
 * 64 KiB, as a server's buffers or a compiler's arenas do.
 * Usage: large_churn [steps=100000] [slots=256] [min_log2=12] [max_log2=22]
 * First stdout line: seconds. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char** argv) {
  long steps = argc > 1 ? atol(argv[1]) : 100000;
  int slots = argc > 2 ? atoi(argv[2]) : 256;
  double lo = argc > 3 ? atof(argv[3]) : 12, hi = argc > 4 ? atof(argv[4]) : 22;
  char** slot = calloc((size_t)slots, sizeof(char*));
  uint64_t s = 7;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < steps; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    int k = (int)(s % (uint64_t)slots);
    free(slot[k]);
    /* 2^lo .. 2^hi bytes, log-uniform */
    size_t n = (size_t)exp2(lo + (hi - lo) * (double)((s >> 20) & 0xffff) / 65536.0);
    slot[k] = malloc(n);
    if (!slot[k]) return 1;
    memset(slot[k], (int)i, n < 65536 ? n : 65536);
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  for (int k = 0; k < slots; ++k) free(slot[k]);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}
