/* larson-style server simulation (after Larson & Krishnan, "Memory Allocation for
 * Long-Running Server Applications", ISMM 1998): each thread owns an array of slots
 * and repeatedly frees a random slot and allocates a new block of random size there.
 * After a number of operations a thread hands its array - live blocks included - to
 * a successor thread that it creates, then exits; so blocks are freed by threads
 * that did not allocate them, and threads come and go throughout the run.
 * Usage: larson [threads=2] [seconds=3] [min=7] [max=511] [slots=1000] [ops_per_thread=20000]
 * First stdout line: throughput in operations per second. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int g_min = 7, g_max = 511, g_slots = 1000, g_ops = 20000;
static atomic_int g_stop;
static atomic_int g_finished; /* chains that freed their blocks and ended */
static atomic_llong g_total_ops;

typedef struct {
  char** slot;
  size_t* size;
  uint64_t rng;
} Task;

static uint64_t next_rand(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static void* worker(void* arg) {
  Task* t = arg;
  long long ops = 0;
  while (!atomic_load_explicit(&g_stop, memory_order_relaxed)) {
    for (int i = 0; i < g_ops; ++i) {
      int k = (int)(next_rand(&t->rng) % (uint64_t)g_slots);
      if (t->slot[k]) {
        if (t->slot[k][0] != (char)t->size[k]) abort(); /* a block must survive hand-over */
        free(t->slot[k]);
      }
      size_t n = (size_t)g_min + next_rand(&t->rng) % (uint64_t)(g_max - g_min + 1);
      t->slot[k] = malloc(n);
      t->slot[k][0] = (char)n;
      t->size[k] = n;
      if (++ops == 4096) { /* publish progress in chunks: the count stays exact */
        atomic_fetch_add_explicit(&g_total_ops, ops, memory_order_relaxed);
        ops = 0;
      }
    }
    atomic_fetch_add(&g_total_ops, ops);
    ops = 0;
    if (atomic_load_explicit(&g_stop, memory_order_relaxed)) break;
    /* Hand the array, live blocks and all, to a new thread, and exit. */
    pthread_t next;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&next, &a, worker, t) == 0) {
      pthread_attr_destroy(&a);
      return NULL;
    }
    pthread_attr_destroy(&a);
  }
  /* The run is over: the last thread of this chain frees what is left. */
  for (int k = 0; k < g_slots; ++k) free(t->slot[k]);
  free(t->slot);
  free(t->size);
  free(t);
  atomic_fetch_add(&g_finished, 1);
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2;
  double seconds = argc > 2 ? atof(argv[2]) : 3;
  if (argc > 3) g_min = atoi(argv[3]);
  if (argc > 4) g_max = atoi(argv[4]);
  if (argc > 5) g_slots = atoi(argv[5]);
  if (argc > 6) g_ops = atoi(argv[6]);
  if (threads < 1 || g_min < 1 || g_max < g_min || g_slots < 1 || g_ops < 1) {
    fprintf(stderr, "usage: larson [threads] [seconds] [min] [max] [slots] [ops]\n");
    return 2;
  }
  for (int i = 0; i < threads; ++i) {
    Task* t = calloc(1, sizeof(Task));
    t->slot = calloc((size_t)g_slots, sizeof(char*));
    t->size = calloc((size_t)g_slots, sizeof(size_t));
    t->rng = 0x9E3779B97F4A7C15ull * (uint64_t)(i + 1);
    /* Warm-up: fill the slots, as in the original. */
    for (int k = 0; k < g_slots; ++k) {
      size_t n = (size_t)g_min + next_rand(&t->rng) % (uint64_t)(g_max - g_min + 1);
      t->slot[k] = malloc(n);
      t->slot[k][0] = (char)n;
      t->size[k] = n;
    }
    pthread_t th;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_create(&th, &a, worker, t);
    pthread_attr_destroy(&a);
  }
  struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
  nanosleep(&ts, NULL);
  long long done = atomic_load(&g_total_ops);
  atomic_store(&g_stop, 1);
  /* Wait for every chain to free its blocks and finish. */
  while (atomic_load(&g_finished) < threads) {
    struct timespec w = {0, 1000000};
    nanosleep(&w, NULL);
  }
  printf("%.0f\n", (double)done / seconds);
  printf("larson threads=%d seconds=%.1f sizes=%d..%d slots=%d ops_per_thread=%d\n", threads,
         seconds, g_min, g_max, g_slots, g_ops);
  return 0;
}
