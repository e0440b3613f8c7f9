/* realloc and size mix: each thread grows strings by appending (realloc by small
 * steps, as string builders do), shrinks some, and mixes in malloc/free of sizes
 * from 8 B to 64 KiB. Usage: realloc_mix [threads=1] [rounds=200]
 * First stdout line: seconds. Exits 1 if contents are lost across realloc. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_rounds = 200;
static volatile int g_bad;

static void* worker(void* arg) {
  uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  char* strs[64] = {0};
  size_t lens[64] = {0};
  void* junk[128] = {0};
  for (int r = 0; r < g_rounds; ++r) {
    for (int k = 0; k < 64; ++k) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      size_t add = 1 + s % 200;
      char* q = realloc(strs[k], lens[k] + add);
      if (!q) abort();
      memset(q + lens[k], 'a' + k % 26, add);
      strs[k] = q;
      lens[k] += add;
      if (lens[k] > 100000 || s % 97 == 0) { /* shrink or restart it */
        if (q[0] != 'a' + k % 26 || q[lens[k] - 1] != 'a' + k % 26) g_bad = 1;
        lens[k] = s % 2 ? lens[k] / 4 : 0;
        strs[k] = lens[k] ? realloc(q, lens[k]) : (free(q), NULL);
      }
      int j = (int)(s >> 40) % 128;
      free(junk[j]);
      junk[j] = malloc(8 + (s >> 20) % (s % 8 == 0 ? 65536 : 512));
    }
  }
  for (int k = 0; k < 64; ++k) free(strs[k]);
  for (int j = 0; j < 128; ++j) free(junk[j]);
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 1;
  if (argc > 2) g_rounds = atoi(argv[2]);
  if (threads > 256) threads = 256;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pthread_t t[256];
  for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, worker, (void*)(uintptr_t)(i + 1));
  for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return g_bad;
}
