/* threadtest-style benchmark (after the Hoard paper's description): N threads each
 * allocate and free many small objects in rounds; the total work is fixed, so
 * perfect scaling halves the time when threads double.
 * Usage: threadtest [threads=2] [rounds=100] [objects=100000] [size=8]
 * First stdout line: seconds. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int g_threads = 2, g_rounds = 100, g_objects = 100000, g_size = 8;

static void* worker(void* arg) {
  (void)arg;
  int per = g_objects / g_threads;
  char** v = malloc(sizeof(char*) * (size_t)per);
  for (int r = 0; r < g_rounds; ++r) {
    for (int i = 0; i < per; ++i) {
      v[i] = malloc((size_t)g_size);
      v[i][0] = (char)i; /* touch it */
    }
    for (int i = 0; i < per; ++i) {
      if (v[i][0] != (char)i) abort();
      free(v[i]);
    }
  }
  free(v);
  return NULL;
}

int main(int argc, char** argv) {
  if (argc > 1) g_threads = atoi(argv[1]);
  if (argc > 2) g_rounds = atoi(argv[2]);
  if (argc > 3) g_objects = atoi(argv[3]);
  if (argc > 4) g_size = atoi(argv[4]);
  if (g_threads < 1 || g_rounds < 1 || g_objects < g_threads || g_size < 1) {
    fprintf(stderr, "usage: threadtest [threads] [rounds] [objects] [size]\n");
    return 2;
  }
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_t* t = malloc(sizeof(pthread_t) * (size_t)g_threads);
  for (int i = 0; i < g_threads; ++i) pthread_create(&t[i], NULL, worker, NULL);
  for (int i = 0; i < g_threads; ++i) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  free(t);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  printf("threadtest threads=%d rounds=%d objects=%d size=%d\n", g_threads, g_rounds, g_objects,
         g_size);
  return 0;
}
