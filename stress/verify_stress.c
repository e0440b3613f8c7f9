/* Verifying stress: blocks of every tier pass between threads through shared slots;
 * each block carries its size and a seed, and its whole contents are checked when
 * it is freed, by whichever thread frees it. Threads are created and destroyed as
 * the run goes (thread churn); some blocks are realloc'ed on the way.
 * Usage: verify_stress [threads=4] [generations=20] [ops_per_thread=20000]
 * Prints "ok" and exits 0, or names the corruption and exits 1. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
static _Atomic(uint64_t*) g_slot[SLOTS];
static int g_ops = 20000;
static atomic_int g_bad;

static uint64_t rnd(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static size_t pick(uint64_t* s) {
  switch (rnd(s) % 16) {
    case 0:
      return 16 + rnd(s) % (512 * 1024); /* large */
    case 1:
    case 2:
      return 16 + rnd(s) % 65536; /* medium */
    case 3:
    case 4:
    case 5:
      return 16 + rnd(s) % 1024; /* cached medium */
    default:
      return 16 + rnd(s) % 241; /* small */
  }
}

/* Layout: word 0 = byte size, word 1 = seed, then seed-derived words. */
static uint64_t* make(size_t n, uint64_t seed) {
  uint64_t* p = malloc(n);
  if (!p) return NULL;
  size_t w = n / 8;
  p[0] = n;
  p[1] = seed;
  for (size_t i = 2; i < w; ++i) p[i] = seed ^ (i * 0x9E3779B97F4A7C15ull);
  return p;
}

static int good(const uint64_t* p) {
  size_t w = p[0] / 8;
  for (size_t i = 2; i < w; ++i)
    if (p[i] != (p[1] ^ (i * 0x9E3779B97F4A7C15ull))) return 0;
  return 1;
}

static void* worker(void* arg) {
  uint64_t s = (uint64_t)(uintptr_t)arg * 0x2545F4914F6CDD1Dull + 1;
  for (int i = 0; i < g_ops; ++i) {
    int k = (int)(rnd(&s) % SLOTS);
    uint64_t* mine = make(pick(&s), rnd(&s));
    if (!mine) {
      atomic_fetch_add(&g_bad, 1);
      break;
    }
    if (rnd(&s) % 8 == 0) { /* grow or shrink it once, contents kept */
      size_t n = pick(&s);
      uint64_t seed = mine[1];
      size_t old = mine[0];
      uint64_t* r = realloc(mine, n);
      if (!r) {
        atomic_fetch_add(&g_bad, 1);
        break;
      }
      r[0] = old < n ? old : n;
      r[0] &= ~(size_t)7;
      if (!good(r)) atomic_fetch_add(&g_bad, 1);
      free(r);
      mine = make(n, seed);
    }
    uint64_t* old = atomic_exchange(&g_slot[k], mine);
    if (old) {
      if (!good(old)) atomic_fetch_add(&g_bad, 1);
      free(old);
    }
  }
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  int generations = argc > 2 ? atoi(argv[2]) : 20;
  if (argc > 3) g_ops = atoi(argv[3]);
  pthread_t* t = malloc(sizeof(pthread_t) * (size_t)threads);
  for (int g = 0; g < generations; ++g) {
    for (int i = 0; i < threads; ++i)
      pthread_create(&t[i], NULL, worker, (void*)(uintptr_t)(g * threads + i + 1));
    for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
  }
  free(t);
  for (int k = 0; k < SLOTS; ++k) {
    uint64_t* p = atomic_load(&g_slot[k]);
    if (p) {
      if (!good(p)) atomic_fetch_add(&g_bad, 1);
      free(p);
    }
  }
  if (atomic_load(&g_bad)) {
    printf("CORRUPTION: %d blocks\n", atomic_load(&g_bad));
    return 1;
  }
  printf("ok\n");
  return 0;
}
