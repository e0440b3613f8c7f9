/* Very large blocks: 20 slots; each step frees one at random and allocates a block
 * of 5..25 MiB, then writes one byte per 4 KiB page of it, as a program that
 * handles big buffers (images, arrays) does. Peak live about 300 MiB.
 * Usage: malloc_large [steps=2000]
 * First stdout line: seconds; second: the page faults of the timed loop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

int main(int argc, char** argv) {
  long steps = argc > 1 ? atol(argv[1]) : 2000;
  char* slot[20] = {0};
  uint64_t s = 11;
  struct timespec a, b;
  struct rusage ra, rb;
  getrusage(RUSAGE_SELF, &ra);
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < steps; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    int k = (int)(s % 20);
    free(slot[k]);
    size_t n = ((size_t)5 << 20) + (size_t)((s >> 24) % (20u << 20));
    slot[k] = malloc(n);
    if (!slot[k]) return 1;
    for (size_t o = 0; o < n; o += 4096) slot[k][o] = (char)i;
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  getrusage(RUSAGE_SELF, &rb);
  for (int k = 0; k < 20; ++k) free(slot[k]);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  printf("page faults %ld\n", rb.ru_minflt - ra.ru_minflt);
  return 0;
}
