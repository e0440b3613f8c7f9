/* Active false sharing (cache-thrash style, after the Hoard paper's description):
 * each thread repeatedly allocates a small object, writes it many times and frees
 * it. An allocator that hands threads objects on one cache line makes them fight.
 * Usage: cache_thrash [threads=2] [iterations=20000] [writes=1000] [size=8]
 * First stdout line: seconds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int g_iter = 20000, g_writes = 1000, g_size = 8;

static void* worker(void* arg) {
  (void)arg;
  for (int i = 0; i < g_iter; ++i) {
    volatile char* p = malloc((size_t)g_size);
    for (int w = 0; w < g_writes; ++w) p[w % g_size] = (char)w;
    free((void*)p);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  if (argc > 2) g_iter = atoi(argv[2]);
  if (argc > 3) g_writes = atoi(argv[3]);
  if (argc > 4) g_size = atoi(argv[4]);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_t t[256];
  if (threads > 256) threads = 256;
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, worker, NULL);
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return 0;
}
