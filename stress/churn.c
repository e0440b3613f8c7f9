/* Single-thread small-object churn: a working set of small objects (8..512 B)
 * replaced at random, as an interpreter or a parser does.
 * Usage: churn [operations=20000000] [working_set=10000]
 * First stdout line: seconds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  long ops = argc > 1 ? atol(argv[1]) : 20000000;
  int ws = argc > 2 ? atoi(argv[2]) : 10000;
  char** slot = calloc((size_t)ws, sizeof(char*));
  uint64_t s = 1;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < ops; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    int k = (int)(s % (uint64_t)ws);
    free(slot[k]);
    size_t n = 8 + ((s >> 32) % 64) * ((s >> 40) % 8 + 1);
    slot[k] = malloc(n);
    slot[k][0] = (char)i;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  for (int k = 0; k < ws; ++k) free(slot[k]);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}
