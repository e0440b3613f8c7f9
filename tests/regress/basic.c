/* Basic functionality: random malloc/calloc/realloc/free from 1 B to a few MiB,
 * 16-byte alignment, zeroed calloc, contents kept across realloc, no overlap. */
#include "regress.h"

#define SLOTS 2048
static struct {
  unsigned char* p;
  size_t n;
  uint32_t seed;
} slot[SLOTS];

static size_t pick_size(void) {
  switch (rnd() % 10) {
    case 0:
      return rnd() % 8 + 1;
    case 1:
    case 2:
    case 3:
      return rnd() % 256 + 1;
    case 4:
    case 5:
      return rnd() % 4096 + 1;
    case 6:
    case 7:
      return rnd() % (256 * 1024) + 1;
    case 8:
      return rnd() % (1 << 20) + 1;
    default:
      return rnd() % (4 << 20) + 1;
  }
}

int main(void) {
  for (uint32_t op = 0; op < 60000; ++op) {
    int i = (int)(rnd() % SLOTS);
    if (slot[i].p) {
      if (!intact(slot[i].p, slot[i].n, slot[i].seed)) fail("contents changed (overlap?)");
      if (rnd() % 3 == 0) {
        size_t n = pick_size();
        unsigned char* q = realloc(slot[i].p, n);
        if (!q) fail("realloc");
        size_t keep = n < slot[i].n ? n : slot[i].n;
        if (!intact(q, keep, slot[i].seed)) fail("realloc lost contents");
        slot[i].p = q;
        slot[i].n = n;
        fill(q, n, slot[i].seed);
      } else {
        free(slot[i].p);
        slot[i].p = NULL;
      }
      continue;
    }
    size_t n = pick_size();
    unsigned char* p;
    if (rnd() % 4 == 0) {
      p = calloc(1, n);
      if (!p) fail("calloc");
      for (size_t k = 0; k < n; ++k)
        if (p[k]) fail("calloc memory not zero");
    } else {
      p = malloc(n);
      if (!p) fail("malloc");
    }
    if ((uintptr_t)p % 16) fail("pointer not 16-byte aligned");
    slot[i].p = p;
    slot[i].n = n;
    slot[i].seed = op;
    fill(p, n, op);
  }
  for (int i = 0; i < SLOTS; ++i) {
    if (slot[i].p && !intact(slot[i].p, slot[i].n, slot[i].seed)) fail("contents changed at end");
    free(slot[i].p);
  }
  /* Freed blocks are reused: the same sizes again fit without growing much. */
  size_t before = vmdata_bytes();
  for (int round = 0; round < 50; ++round) {
    void* v[256];
    for (int k = 0; k < 256; ++k) v[k] = xmalloc((size_t)(k * 97 % 5000) + 1);
    for (int k = 0; k < 256; ++k) free(v[k]);
  }
  if (vmdata_bytes() > before + (4 << 20)) fail("freed blocks were not reused");
  say("basic: ok\n");
  return 0;
}
