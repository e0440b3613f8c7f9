/* Heap-limit regression programs, in the spirit of the assignment's second and third
 * test sets. Each sets RLIMIT_DATA at the start of main to the bytes it will keep
 * live times a factor, plus 256 KiB; each must pass with glibc too (the check that
 * the limit is fair). Usage: limits <test> */
#include "regress.h"

#define MAXB 20000
static unsigned char* blk[MAXB];
static size_t len[MAXB];

static void put(int i, size_t n, int zero) {
  blk[i] = zero ? calloc(1, n) : malloc(n);
  if (!blk[i]) fail("allocation failed under the limit");
  len[i] = n;
  if (zero)
    for (size_t k = 0; k < n; k += 7)
      if (blk[i][k]) fail("calloc memory not zero");
  fill(blk[i], n, (uint32_t)i * 2654435761u);
}
static void drop(int i) {
  if (!intact(blk[i], len[i], (uint32_t)i * 2654435761u)) fail("contents changed");
  free(blk[i]);
  blk[i] = NULL;
}
static void verify_all(int n) {
  for (int i = 0; i < n; ++i)
    if (blk[i] && !intact(blk[i], len[i], (uint32_t)i * 2654435761u)) fail("contents changed");
}

/* Same-size reuse: half the blocks live at any time, many rounds. */
static void same_size(void) {
  const int n = 8000;
  const size_t sizes[] = {24, 100, 600, 3000};
  size_t live = 0;
  for (int s = 0; s < 4; ++s) live += (size_t)n / 4 * sizes[s];
  limit_data(live, 1.10);
  for (int i = 0; i < n; ++i) put(i, sizes[i % 4], 0);
  for (int round = 0; round < 20; ++round) {
    for (int i = round % 2; i < n; i += 2) drop(i);
    for (int i = round % 2; i < n; i += 2) put(i, sizes[i % 4], 0);
    sample_vmdata();
  }
  verify_all(n);
}

/* calloc reuse: freed dirty memory must read as zero when calloc'ed again. */
static void calloc_reuse(void) {
  const int n = 6000;
  size_t live = 0;
  for (int i = 0; i < n; ++i) live += (size_t)(i % 50) * 40 + 8;
  limit_data(live, 1.10);
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < n; ++i) put(i, (size_t)(i % 50) * 40 + 8, round > 0);
    sample_vmdata();
    for (int i = 0; i < n; ++i) {
      memset(blk[i], 0xff, len[i]);
      free(blk[i]);
    }
  }
}

/* k of every k+1 neighbouring medium blocks freed, then blocks that only fit in the
 * merged runs (the design brief's 4-of-5 case). */
static void merge(void) {
  const int n = 10000, k = 4;
  const size_t sz = 500;
  limit_data((size_t)n * sz, 1.10);
  for (int i = 0; i < n; ++i) put(i, sz, 0);
  sample_vmdata();
  for (int i = 0; i < n; ++i)
    if (i % (k + 1) != k) drop(i);
  /* 500..1999 bytes: each needs a merged run of four 500-byte blocks. */
  for (int i = 0; i < n; ++i)
    if (i % (k + 1) == 0) put(i, 500 + rnd() % 1500, 0);
  sample_vmdata();
  verify_all(n);
}

/* Odd blocks freed, then every even block realloc'ed to nearly twice its size. */
static void realloc_grow(void) {
  const int n = 8000;
  const size_t sz = 700;
  limit_data((size_t)n * sz, 1.10);
  for (int i = 0; i < n; ++i) put(i, sz, 0);
  for (int i = 1; i < n; i += 2) drop(i);
  for (int i = 0; i < n; i += 2) {
    size_t nn = sz * 2 - 32;
    unsigned char* q = realloc(blk[i], nn);
    if (!q) fail("realloc failed under the limit");
    if (!intact(q, sz, (uint32_t)i * 2654435761u)) fail("realloc lost contents");
    blk[i] = q;
    len[i] = nn;
    fill(q, nn, (uint32_t)i * 2654435761u);
  }
  sample_vmdata();
  verify_all(n);
}

/* Many small blocks freed; their memory must serve medium blocks. */
static void small_to_medium(void) {
  const int n = 20000;
  const size_t small = 64, medium = 2000;
  limit_data((size_t)n * small, 1.15);
  for (int i = 0; i < n; ++i) put(i, small, 0);
  sample_vmdata();
  for (int i = 0; i < n; ++i) drop(i);
  int m = (int)((size_t)n * small / medium) * 9 / 10;
  for (int i = 0; i < m; ++i) put(i, medium, 0);
  sample_vmdata();
  verify_all(m);
}

/* Large blocks freed in runs and merged for bigger ones. */
static void large_merge(void) {
  const int n = 64;
  const size_t sz = 256 * 1024;
  limit_data((size_t)n * sz, 1.10);
  for (int i = 0; i < n; ++i) put(i, sz, 0);
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < n; ++i)
      if (i % 4 != 3) drop(i);
    for (int i = 0; i < n; i += 4) put(i, sz * 5 / 2, 0);
    sample_vmdata();
    verify_all(n);
    for (int i = 0; i < n; i += 4) drop(i);
    for (int i = 0; i < n; ++i)
      if (i % 4 != 3) put(i, sz, 0);
  }
}

int main(int argc, char** argv) {
  static const struct {
    const char* name;
    void (*fn)(void);
  } tests[] = {
      {"same_size", same_size},
      {"calloc_reuse", calloc_reuse},
      {"merge", merge},
      {"realloc_grow", realloc_grow},
      {"small_to_medium", small_to_medium},
      {"large_merge", large_merge},
  };
  if (argc != 2) fail("usage: limits <test>");
  for (size_t t = 0; t < sizeof tests / sizeof tests[0]; ++t) {
    if (strcmp(argv[1], tests[t].name) == 0) {
      tests[t].fn();
      report_peak();
      say(argv[1]);
      say(": ok\n");
      return 0;
    }
  }
  fail("unknown test");
}
