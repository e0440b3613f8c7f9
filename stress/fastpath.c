/* The fast-path loop of the small-object issue: one malloc and one free per
 * iteration, sizes 16..256 cycling by 24. Run it under callgrind at two iteration
 * counts; the difference divided by the difference of counts is instructions per
 * malloc+free pair. Usage: fastpath <iterations> */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  size_t size = 16;
  for (long i = 0; i < n; ++i) {
    void* p = malloc(size);
    *(volatile char*)p = 1;
    free(p);
    size += 24;
    if (size > 256) size = 16;
  }
  return 0;
}
