/* Running out under a data limit: allocation fails cleanly with NULL and ENOMEM,
 * every live block stays intact, and after frees the allocator serves again - in
 * every tier and from several threads. */
#include <errno.h>
#include <pthread.h>

#include "regress.h"

#define MAXB 200000
static unsigned char* blk[MAXB];
static size_t len[MAXB];

static size_t size_for(int i) {
  switch (i % 4) {
    case 0:
      return 48;
    case 1:
      return 700;
    case 2:
      return 20000;
    default:
      return 300000;
  }
}

static void* other_thread(void* arg) {
  (void)arg;
  /* A thread that starts while memory is exhausted still gets NULL, not a crash. */
  void* p = malloc(1 << 20);
  free(p);
  return NULL;
}

int main(void) {
  limit_data(32u << 20, 1.0);
  int n = 0;
  for (; n < MAXB; ++n) {
    errno = 0;
    blk[n] = malloc(size_for(n));
    if (!blk[n]) break;
    len[n] = size_for(n);
    fill(blk[n], len[n], (uint32_t)n);
  }
  if (n == MAXB) fail("the limit was never reached");
  if (errno != ENOMEM) fail("failed allocation without ENOMEM");
  /* Every tier fails cleanly now (retry each, the pressure path runs each time). */
  errno = 0;
  if (malloc(1 << 22) != NULL || errno != ENOMEM) fail("large allocation did not fail with ENOMEM");
  void* r = realloc(blk[0], 8 << 20);
  if (r) fail("realloc beyond the limit succeeded");
  pthread_t t;
  if (pthread_create(&t, NULL, other_thread, NULL) == 0) pthread_join(t, NULL);
  for (int i = 0; i < n; ++i)
    if (!intact(blk[i], len[i], (uint32_t)i)) fail("a live block changed after ENOMEM");
  /* Free every other block: the same sizes fit again. */
  for (int i = 0; i < n; i += 2) free(blk[i]);
  for (int i = 0; i < n; i += 2) {
    blk[i] = malloc(len[i]);
    if (!blk[i]) fail("no memory after frees");
    fill(blk[i], len[i], (uint32_t)i);
  }
  for (int i = 0; i < n; ++i) {
    if (!intact(blk[i], len[i], (uint32_t)i)) fail("contents changed");
    free(blk[i]);
  }
  say_num("enomem: blocks before the limit ", (size_t)n);
  say("enomem: ok\n");
  return 0;
}
