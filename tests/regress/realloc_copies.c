/* A preload shim that counts the bytes realloc copies, put before the allocator
 * (LD_PRELOAD="realloc_copies.so allocator.so"). Two counts, printed to stderr at
 * exit as "realloc_copies: moves N memcpy B unmapped B":
 * - memcpy: bytes passed to memcpy and memmove while the allocator's realloc
 *   runs (an allocator that calls them through its PLT, as mymalloc does; a
 *   move done with mremap copies nothing and adds nothing);
 * - unmapped: for glibc, whose realloc copies with an internal memcpy, the old
 *   size of every block that moved and was not an mmapped chunk (its header's
 *   IS_MMAPPED bit; those move with mremap). Set RC_GLIBC=1 to read that bit. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static void* (*real_realloc)(void*, size_t);
static void* (*real_memcpy)(void*, const void*, size_t);
static void* (*real_memmove)(void*, const void*, size_t);
static size_t (*real_usable)(void*);
static unsigned long long g_moves, g_memcpy, g_unmapped;
static __thread int t_in_realloc;
static int g_glibc;

static void init(void) {
  real_realloc = (void* (*)(void*, size_t))dlsym(RTLD_NEXT, "realloc");
  real_memcpy = (void* (*)(void*, const void*, size_t))dlsym(RTLD_NEXT, "memcpy");
  real_memmove = (void* (*)(void*, const void*, size_t))dlsym(RTLD_NEXT, "memmove");
  real_usable = (size_t(*)(void*))dlsym(RTLD_NEXT, "malloc_usable_size");
  g_glibc = getenv("RC_GLIBC") != NULL;
}

void* memcpy(void* d, const void* s, size_t n) {
  if (!real_memcpy) init();
  if (t_in_realloc) __atomic_fetch_add(&g_memcpy, n, __ATOMIC_RELAXED);
  return real_memcpy(d, s, n);
}

void* memmove(void* d, const void* s, size_t n) {
  if (!real_memmove) init();
  if (t_in_realloc) __atomic_fetch_add(&g_memcpy, n, __ATOMIC_RELAXED);
  return real_memmove(d, s, n);
}

void* realloc(void* p, size_t n) {
  if (!real_realloc) init();
  size_t old = p ? real_usable(p) : 0;
  int mmapped = p && g_glibc && (((size_t*)p)[-1] & 2) != 0;
  t_in_realloc = 1;
  void* q = real_realloc(p, n);
  t_in_realloc = 0;
  if (p && q && q != p) {
    __atomic_fetch_add(&g_moves, 1, __ATOMIC_RELAXED);
    if (!mmapped) __atomic_fetch_add(&g_unmapped, old < n ? old : n, __ATOMIC_RELAXED);
  }
  return q;
}

__attribute__((destructor)) static void report(void) {
  char buf[160];
  int k = snprintf(buf, sizeof buf, "realloc_copies: moves %llu memcpy %llu unmapped %llu\n",
                   g_moves, g_memcpy, g_unmapped);
  if (k > 0 && write(2, buf, (size_t)k) < 0) return;
}
