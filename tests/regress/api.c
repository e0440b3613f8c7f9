/* glibc's allocation API with glibc's semantics, through the preloaded library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "regress.h"

void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
void* __libc_valloc(size_t);
void* __libc_pvalloc(size_t);

#define CHECK(c)             \
  do {                       \
    if (!(c)) {              \
      say("line ");          \
      say_num("", __LINE__); \
      fail(#c);              \
    }                        \
  } while (0)

static int aligned(void* p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

int main(void) {
  /* malloc(0): unique, freeable pointers. */
  void* z1 = malloc(0);
  void* z2 = malloc(0);
  CHECK(z1 && z2 && z1 != z2);
  free(z1);
  free(z2);
  free(NULL);

  /* realloc(NULL, n) is malloc; realloc(p, 0) frees and returns NULL (glibc). */
  char* r = realloc(NULL, 100);
  CHECK(r);
  memset(r, 7, 100);
  CHECK(realloc(r, 0) == NULL);

  /* Sizes that overflow or exceed PTRDIFF_MAX: NULL and ENOMEM. */
  errno = 0;
  CHECK(malloc(SIZE_MAX) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(malloc((size_t)PTRDIFF_MAX + 1) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(calloc(SIZE_MAX / 16, 17) == NULL && errno == ENOMEM);
  errno = 0;
  CHECK(reallocarray(NULL, SIZE_MAX / 2, 3) == NULL && errno == ENOMEM);
  /* A failed realloc leaves the block intact. */
  char* keep = malloc(300);
  fill(keep, 300, 5);
  errno = 0;
  CHECK(realloc(keep, SIZE_MAX - 4096) == NULL && errno == ENOMEM);
  CHECK(intact(keep, 300, 5));
  free(keep);

  /* free preserves errno. */
  void* e = malloc(5000);
  errno = 1234;
  free(e);
  CHECK(errno == 1234);

  /* Every pointer 16-byte aligned, usable size at least the request and stable. */
  for (size_t n = 1; n < 300000; n = n * 3 / 2 + 1) {
    void* p = malloc(n);
    CHECK(p && aligned(p, 16));
    size_t u = malloc_usable_size(p);
    CHECK(u >= n);
    CHECK(malloc_usable_size(p) == u);
    memset(p, 1, u); /* the whole usable size is ours to write */
    free(p);
  }
  CHECK(malloc_usable_size(NULL) == 0);

  /* posix_memalign: EINVAL for bad alignments, errno untouched. */
  void* pm = (void*)1;
  errno = 77;
  CHECK(posix_memalign(&pm, 3, 10) == EINVAL);
  CHECK(posix_memalign(&pm, 4, 10) == EINVAL); /* not a multiple of sizeof(void*) */
  CHECK(pm == (void*)1);
  CHECK(posix_memalign(&pm, 64, SIZE_MAX / 2) == ENOMEM);
  CHECK(errno == 77);
  for (size_t a = 8; a <= ((size_t)4 << 20); a <<= 1) {
    for (size_t n = 1; n <= 300000; n *= 37) {
      void* p;
      CHECK(posix_memalign(&p, a, n) == 0 && aligned(p, a));
      memset(p, 2, n);
      free(p);
      p = aligned_alloc(a, n);
      CHECK(p && aligned(p, a));
      free(p);
      p = memalign(a, n);
      CHECK(p && aligned(p, a));
      CHECK(malloc_usable_size(p) >= n);
      free(p);
    }
  }
  errno = 0;
  CHECK(aligned_alloc(24, 100) == NULL && errno == EINVAL);
  void* m3 = memalign(24, 100); /* glibc rounds up to a power of two */
  CHECK(m3 && aligned(m3, 32));
  free(m3);

  /* valloc and pvalloc: page aligned; pvalloc rounds the size up to a page. */
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void* v = valloc(10);
  CHECK(v && aligned(v, page));
  free(v);
  void* pv = pvalloc(10);
  CHECK(pv && aligned(pv, page) && malloc_usable_size(pv) >= page);
  memset(pv, 3, page);
  free(pv);

  /* Large blocks: the slack past the request is bounded (an eighth, or 64 KiB),
   * a realloc within it keeps the block where it is, and growth and shrinking in
   * place keep the contents. */
  for (size_t n = 130000; n < (64u << 20); n = n * 3 / 2 + 4097) {
    char* g = malloc(n);
    size_t u = malloc_usable_size(g);
    CHECK(g && u >= n && u <= n + n / 8 + 65536 + 8192);
    fill(g, n, 7);
    CHECK(realloc(g, u) == g);
    char* h = realloc(g, n / 2 + 1);
    CHECK(h && intact(h, n / 2 + 1, 7));
    h = realloc(h, n * 2);
    CHECK(h && intact(h, n / 2 + 1, 7));
    free(h);
  }

  /* mallopt: parameters with a counterpart here are applied (the release
   * threshold, the largest medium request, the number of heaps); values out of
   * range and parameters with no meaning here report failure instead of
   * pretending. */
  CHECK(mallopt(M_TRIM_THRESHOLD, 8 << 20) == 1);
  CHECK(mallopt(M_ARENA_MAX, 2) == 1);
  CHECK(mallopt(M_ARENA_MAX, 5000) == 0);
  CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1);
  CHECK(mallopt(M_MMAP_THRESHOLD, 1 << 30) == 0);
  CHECK(mallopt(M_MMAP_THRESHOLD, -1) == 0);
  CHECK(mallopt(M_TOP_PAD, 1 << 20) == 0);
  CHECK(mallopt(M_PERTURB, 0xa5) == 0);
  {
    /* 600 KB is a medium chunk now: usable size exact to 16 bytes (a large block
     * would be rounded up to its class). */
    char* m = malloc(600000);
    CHECK(m && malloc_usable_size(m) < 600000 + 64);
    memset(m, 3, 600000);
    free(m);
  }
  CHECK(mallopt(M_MMAP_THRESHOLD, 128 << 10) == 1);
  CHECK(mallopt(M_ARENA_MAX, 0) == 1);
  CHECK(mallopt(M_TRIM_THRESHOLD, 16 << 20) == 1);

  /* calloc zeroes; reallocarray works. */
  int* c = calloc(1000, sizeof(int));
  for (int i = 0; i < 1000; ++i) CHECK(c[i] == 0);
  c = reallocarray(c, 2000, sizeof(int));
  CHECK(c && c[999] == 0);
  free(c);

  /* glibc's internal names and cfree. */
  void* l = __libc_malloc(50);
  CHECK(l);
  l = __libc_realloc(l, 5000);
  CHECK(l);
  __libc_free(l);
  int* lc = __libc_calloc(10, sizeof(int));
  CHECK(lc && lc[9] == 0);
  /* cfree is gone from glibc's headers and default symbols; ours still has it. */
  void (*cfree_fn)(void*) = (void (*)(void*))dlsym(RTLD_DEFAULT, "cfree");
  if (cfree_fn)
    cfree_fn(lc);
  else
    free(lc);
  void* lm = __libc_memalign(4096, 10);
  CHECK(lm && aligned(lm, 4096));
  free(lm);
  lm = __libc_valloc(10);
  CHECK(lm && aligned(lm, page));
  free(lm);
  lm = __libc_pvalloc(10);
  CHECK(lm && aligned(lm, page));
  free(lm);

  /* malloc_info: an XML document with our figures (glibc's printed zeros under
   * the preload), free objects by size class, and totals that agree with
   * mallinfo2 taken right after it (the FILE's buffer is ours, so nothing
   * allocates in between); options other than 0 are EINVAL. */
  void* held_big = malloc(300000); /* a large block for the mmap figures */
  FILE* xf = tmpfile();
  static char xbuf[1 << 16], xml[1 << 16];
  CHECK(xf && setvbuf(xf, xbuf, _IOFBF, sizeof xbuf) == 0);
  CHECK(malloc_info(0, xf) == 0);
  struct mallinfo2 mx = mallinfo2();
  rewind(xf);
  size_t xn = fread(xml, 1, sizeof xml - 1, xf);
  xml[xn] = 0;
  fclose(xf);
  free(held_big);
  CHECK(strstr(xml, "<malloc version=\"mymalloc-") && strstr(xml, "</malloc>"));
  CHECK(strstr(xml, "<size from=\"") && strstr(xml, "<class size=\"16\" fetched=\""));
  size_t fast_n, fast, rest_n, rest, current, mmap_n, mmap_size;
  const char* t = strstr(xml, "<total type=\"fast\"");
  CHECK(t && sscanf(t,
                    "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
                    "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
                    "<system type=\"current\" size=\"%zu\"/>",
                    &fast_n, &fast, &rest_n, &rest, &current) == 5);
  t = strstr(xml, "<total type=\"mmap\"");
  CHECK(t &&
        sscanf(t, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"", &mmap_n, &mmap_size) == 2);
  CHECK(current > 0 && current == mx.arena);
  CHECK(fast == mx.fsmblks && fast + rest == mx.fordblks && rest_n == mx.ordblks);
  CHECK(mmap_n >= 1 && mmap_n == mx.hblks && mmap_size >= 300000 && mmap_size == mx.hblkhd);
  errno = 0;
  CHECK(malloc_info(1, stderr) == -1 && errno == EINVAL);

  /* mymalloc_stats_json(fd) writes the statistics as one JSON line to fd. */
  void (*stats_json)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "mymalloc_stats_json");
  CHECK(stats_json);
  FILE* jf = tmpfile();
  CHECK(jf);
  stats_json(fileno(jf));
  rewind(jf);
  xn = fread(xml, 1, sizeof xml - 1, jf);
  xml[xn] = 0;
  fclose(jf);
  CHECK(strncmp(xml, "{\"mymalloc\":{\"version\":", 23) == 0 && xn > 4 &&
        strcmp(xml + xn - 4, "]}}\n") == 0);
  CHECK(strstr(xml, "\"classes\":[{\"size\":16,") && strstr(xml, "\"peak_mapped_bytes\":") &&
        strstr(xml, "\"lock_waits\":"));

  /* malloc_trim, mallinfo, mallinfo2 answer (mallopt: above). */
  void* big = malloc(20 << 20);
  memset(big, 1, 20 << 20);
  free(big);
  malloc_trim(0);
  void* held = malloc(100000);
  struct mallinfo2 mi = mallinfo2();
  CHECK(mi.arena >= 100000 && mi.uordblks >= 100000);
  struct mallinfo mi1 = mallinfo();
  CHECK(mi1.arena > 0);
  free(held);

  /* A medium block of 1..64 KiB freed and allocated again in a loop is served by
   * the thread cache (its size class, 20480 here): stats.sh checks that its heap
   * was asked once or twice, not 2000 times. */
  for (int i = 0; i < 2000; ++i) {
    char* m = malloc(20000 - (size_t)(i % 7) * 100);
    CHECK(m != NULL && malloc_usable_size(m) >= 20000 - (size_t)(i % 7) * 100);
    m[0] = (char)i;
    free(m);
  }
  say("api: ok\n");
  return 0;
}
