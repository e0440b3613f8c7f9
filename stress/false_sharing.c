/* False sharing, after the Hoard paper's cache-thrash and cache-scratch:
 *  active:  each thread repeatedly allocates a small object, writes it many times
 *           and frees it; an allocator that hands threads objects on one cache
 *           line makes them fight over it.
 *  passive: the main thread first allocates one small object per thread
 *           (neighbours on a cache line) and hands one to each thread, which frees
 *           it before doing the same loop; an allocator that gives the freed
 *           neighbour's line to another thread keeps the sharing going.
 * Usage: false_sharing active|passive [threads=2] [iterations=20000] [writes=1000] [size=8]
 * First stdout line: seconds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_iter = 20000, g_writes = 1000, g_size = 8;

static void* worker(void* initial) {
  free(initial); /* NULL in the active test */
  for (int i = 0; i < g_iter; ++i) {
    volatile char* p = malloc((size_t)g_size);
    for (int w = 0; w < g_writes; ++w) p[w % g_size] = (char)w;
    free((void*)p);
  }
  return NULL;
}

int main(int argc, char** argv) {
  if (argc < 2 || (strcmp(argv[1], "active") && strcmp(argv[1], "passive"))) {
    fprintf(stderr, "usage: false_sharing active|passive [threads] [iterations] [writes] [size]\n");
    return 2;
  }
  int passive = !strcmp(argv[1], "passive");
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  if (argc > 3) g_iter = atoi(argv[3]);
  if (argc > 4) g_writes = atoi(argv[4]);
  if (argc > 5) g_size = atoi(argv[5]);
  if (threads < 1 || threads > 256 || g_size < 1) return 2;
  void* initial[256] = {0};
  if (passive)
    for (int i = 0; i < threads; ++i) initial[i] = malloc((size_t)g_size);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_t t[256];
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, worker, initial[i]);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}
