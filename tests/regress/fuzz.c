/* A randomised differential fuzzer of the whole allocation API, run as any
 * program would run it (LD_PRELOAD). Threads make random calls to malloc, calloc,
 * realloc, reallocarray, free, aligned_alloc, posix_memalign, memalign, valloc
 * and pvalloc, with sizes 0..9 MiB (mostly log-uniform up to 128 KiB, one in 64 large, so every
 * tier is hit) and alignments 8 B..1 MiB, and hand blocks to each other through a shared table.
 * Every block is filled with a pattern keyed by its own id and checked before
 * each free and realloc (realloc must keep the common prefix), so a block handed
 * out twice, an overlap or a lost copy shows as a broken pattern; alignment,
 * malloc_usable_size >= the request and calloc's zeroes are checked on the spot.
 * What the allocator must do is what glibc documents, so the same program runs
 * against glibc as the reference.
 *
 * Usage: fuzz [threads=4] [ops per thread=200000] [seed=1]. A failure prints the
 * seed, thread and operation, and exits 1: rerun with that seed to reproduce
 * (single-threaded runs are exactly reproducible). Last line: "fuzz: ok, N ops". */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 2048 /* shared by all threads: blocks travel between them */

struct block {
  unsigned char* p;
  size_t n;
  uint64_t id;
};

static struct block g_slot[SLOTS];
static pthread_mutex_t g_lock[64];
static uint64_t g_seed = 1;
static long g_ops = 200000;
static unsigned long g_done;

static void die(const char* what, int t, long op, const struct block* b) {
  fprintf(stderr, "fuzz: FAIL: %s (seed %llu, thread %d, op %ld, block %p of %zu bytes, id %llu)\n",
          what, (unsigned long long)g_seed, t, op, (void*)(b ? b->p : NULL), b ? b->n : 0,
          (unsigned long long)(b ? b->id : 0));
  _exit(1);
}

static inline uint64_t next(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

/* The pattern of byte i of block id: cheap, and different for every block. */
static inline unsigned char pat(uint64_t id, size_t i) {
  return (unsigned char)((id * 0x9E3779B97F4A7C15ull >> 56) + i * 31 + (i >> 8));
}

/* The bytes that carry the pattern: all of the first 4 KiB, every 61st after
 * (enough to see a block handed out twice or a copy that lost a part). */
#define WHOLE 4096
#define STRIDE 61

static void fill(struct block* b, size_t from) {
  size_t i = from;
  for (; i < b->n && i < WHOLE; ++i) b->p[i] = pat(b->id, i);
  for (i = (i + STRIDE - 1) / STRIDE * STRIDE; i < b->n; i += STRIDE) b->p[i] = pat(b->id, i);
}

static int intact(const struct block* b, size_t upto) {
  size_t i = 0;
  for (; i < upto && i < WHOLE; ++i)
    if (b->p[i] != pat(b->id, i)) return 0;
  for (i = (i + STRIDE - 1) / STRIDE * STRIDE; i < upto; i += STRIDE)
    if (b->p[i] != pat(b->id, i)) return 0;
  return 1;
}

static int zeroed(const unsigned char* p, size_t n) {
  size_t i = 0;
  for (; i < n && i < WHOLE; ++i)
    if (p[i]) return 0;
  for (i = (i + STRIDE - 1) / STRIDE * STRIDE; i < n; i += STRIDE)
    if (p[i]) return 0;
  return n == 0 || p[n - 1] == 0;
}

static size_t pick_size(uint64_t* s) {
  uint64_t r = next(s);
  if (r % 64 == 0) return ((size_t)1 << (17 + (r >> 8) % 7)) + (r >> 32) % (1u << 20); /* large */
  switch (r % 16) {
    case 1:
      return 0;
    case 2:
      return r >> 40 & 15; /* tiny */
    case 3:
      return ((size_t)1 << (4 + (r >> 8) % 13)) + (r >> 32) % 33 - 16; /* near powers of 2 */
    default: {
      unsigned lg = (unsigned)(r >> 8) % 17; /* log-uniform, 1 B .. 128 KiB */
      return ((size_t)1 << lg) + (r >> 40) % ((size_t)1 << lg);
    }
  }
}

static int aligned(const void* p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void check_new(struct block* b, size_t align, int t, long op) {
  if (!aligned(b->p, align < 16 ? 16 : align)) die("misaligned block", t, op, b);
  if (malloc_usable_size(b->p) < b->n) die("malloc_usable_size below the request", t, op, b);
}

static void* worker(void* arg) {
  int t = (int)(intptr_t)arg;
  uint64_t s = g_seed * 0x2545F4914F6CDD1Dull + (uint64_t)t * 0x9E3779B97F4A7C15ull + 1;
  uint64_t id = (uint64_t)t << 48;
  for (long op = 0; op < g_ops; ++op) {
    uint64_t r = next(&s);
    int k = (int)(r % SLOTS);
    pthread_mutex_t* lk = &g_lock[k % 64];
    pthread_mutex_lock(lk);
    struct block* b = &g_slot[k];
    if (b->p && !intact(b, b->n)) die("block contents changed while it was live", t, op, b);
    unsigned what = (unsigned)(r >> 32) % 20;
    size_t n = pick_size(&s);
    if (b->p && what < 8) { /* free */
      free(b->p);
      b->p = NULL;
    } else if (b->p && what < 13) { /* realloc or reallocarray: the prefix must survive */
      size_t keep = b->n < n ? b->n : n;
      unsigned char* q = what < 11 ? realloc(b->p, n) : reallocarray(b->p, n ? 1 : 0, n);
      if (!q && n) die("realloc returned NULL", t, op, b);
      if (!n) {
        if (what >= 11 && q) free(q); /* reallocarray(p, 0, 0) may keep a block */
        b->p = NULL;
      } else {
        b->p = q;
        b->n = n;
        if (!intact(b, keep)) die("realloc lost the block's contents", t, op, b);
        check_new(b, 16, t, op);
        fill(b, keep);
      }
    } else if (!b->p) { /* a new block, through one of the entry points */
      size_t align = 16;
      unsigned char* p = NULL;
      int zero = 0;
      switch (what % 8) {
        case 0:
        case 1:
        case 2:
          p = malloc(n);
          break;
        case 3: {
          size_t cnt = 1 + (r >> 50) % 8;
          p = calloc(cnt, n / cnt + 1);
          n = cnt * (n / cnt + 1);
          zero = 1;
          break;
        }
        case 4:
          align = (size_t)8 << (r >> 44) % 18; /* 8 B .. 1 MiB */
          if (posix_memalign((void**)&p, align, n) != 0) p = NULL;
          break;
        case 5:
          align = (size_t)8 << (r >> 44) % 18;
          p = aligned_alloc(align, (n + align - 1) / align * align);
          n = (n + align - 1) / align * align;
          break;
        case 6:
          align = (size_t)8 << (r >> 44) % 18;
          p = memalign(align, n);
          break;
        default:
          align = (size_t)sysconf(_SC_PAGESIZE);
          p = (r >> 60) & 1 ? valloc(n) : pvalloc(n);
          break;
      }
      struct block nb = {p, n, ++id};
      if (!p) die("allocation returned NULL", t, op, &nb);
      if (zero && !zeroed(p, n)) die("calloc memory not zero", t, op, &nb);
      check_new(&nb, align, t, op);
      fill(&nb, 0);
      *b = nb;
    }
    pthread_mutex_unlock(lk);
  }
  __atomic_add_fetch(&g_done, (unsigned long)g_ops, __ATOMIC_RELAXED);
  return NULL;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 4;
  if (argc > 2) g_ops = atol(argv[2]);
  if (argc > 3) g_seed = strtoull(argv[3], NULL, 10);
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  for (int i = 0; i < 64; ++i) pthread_mutex_init(&g_lock[i], NULL);
  pthread_t tid[64];
  for (int t = 0; t < threads; ++t)
    if (pthread_create(&tid[t], NULL, worker, (void*)(intptr_t)t)) return 2;
  for (int t = 0; t < threads; ++t) pthread_join(tid[t], NULL);
  for (int k = 0; k < SLOTS; ++k) {
    if (g_slot[k].p && !intact(&g_slot[k], g_slot[k].n))
      die("block contents changed while it was live", -1, -1, &g_slot[k]);
    free(g_slot[k].p);
  }
  printf("fuzz: ok, %lu ops\n", g_done);
  return 0;
}
