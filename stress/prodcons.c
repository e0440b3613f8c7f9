/* Producer/consumer (xmalloc-style): producers allocate and fill blocks and hand
 * them through a bounded queue to consumers, which verify and free them - every
 * block is freed by a thread that did not allocate it.
 * Usage: prodcons [pairs=1] [blocks_per_producer=2000000] [max_size=512]
 * First stdout line: seconds; the peak RSS goes to stderr. Exits 1 on a corrupted block. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define QLEN 4096
typedef struct {
  _Atomic(uint64_t*) slot[QLEN];
  atomic_size_t head, tail;
} Queue;

static long g_blocks = 2000000;
static size_t g_max = 512;
static atomic_int g_bad;

static void* producer(void* arg) {
  Queue* q = arg;
  uint64_t s = (uintptr_t)arg | 1;
  for (long i = 0; i < g_blocks; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    size_t n = 16 + s % (g_max - 15);
    uint64_t* p = malloc(n);
    p[0] = n;
    p[1] = s;
    ((unsigned char*)p)[n - 1] = (unsigned char)s;
    size_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    while (t - atomic_load_explicit(&q->head, memory_order_acquire) >= QLEN) sched_yield();
    atomic_store_explicit(&q->slot[t % QLEN], p, memory_order_relaxed);
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
  }
  return NULL;
}

static void* consumer(void* arg) {
  Queue* q = arg;
  for (long i = 0; i < g_blocks; ++i) {
    size_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    while (atomic_load_explicit(&q->tail, memory_order_acquire) == h) sched_yield();
    uint64_t* p = atomic_load_explicit(&q->slot[h % QLEN], memory_order_relaxed);
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    size_t n = p[0];
    if (((unsigned char*)p)[n - 1] != (unsigned char)p[1]) atomic_fetch_add(&g_bad, 1);
    free(p);
  }
  return NULL;
}

int main(int argc, char** argv) {
  int pairs = argc > 1 ? atoi(argv[1]) : 1;
  if (argc > 2) g_blocks = atol(argv[2]);
  if (argc > 3) g_max = (size_t)atol(argv[3]);
  if (pairs < 1 || g_blocks < 1 || g_max < 32) {
    fprintf(stderr, "usage: prodcons [pairs] [blocks] [max_size>=32]\n");
    return 2;
  }
  Queue* qs = calloc((size_t)pairs, sizeof(Queue));
  pthread_t* t = malloc(sizeof(pthread_t) * 2 * (size_t)pairs);
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < pairs; ++i) {
    pthread_create(&t[2 * i], NULL, producer, &qs[i]);
    pthread_create(&t[2 * i + 1], NULL, consumer, &qs[i]);
  }
  for (int i = 0; i < 2 * pairs; ++i) pthread_join(t[i], NULL);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  printf("prodcons pairs=%d blocks=%ld max=%zu bad=%d\n", pairs, g_blocks, g_max,
         atomic_load(&g_bad));
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  fprintf(stderr, "peak RSS KiB %ld\n", ru.ru_maxrss);
  free(qs);
  free(t);
  return atomic_load(&g_bad) ? 1 : 0;
}
