/* The heap profiler from outside, as a program preloading the library meets it
 * (built -O2 -g without frame pointers, as Debian builds).
 *   prof leak     one function leaks (about 60 MB), one frees all it allocates;
 *                 prints the bytes leaked
 *   prof rate     keeps ~90 MB of random sizes live, dumps a profile with
 *                 mymalloc_prof_dump(), prints the live bytes
 *   prof threads  4 threads allocate, free each other's blocks, exit; a child
 *                 forks, frees its copies and dumps; everything is freed and
 *                 a profile dumped at the end (it must show nothing live)
 *   prof signal   raises the dump signal (MYMALLOC_PROF_SIGNAL=SIGUSR2)
 *   prof stdio    writes to stdout through stdio and frees all it allocates (the
 *                 C library keeps its stdout buffer: not the program's leak)
 *   prof strdup   leaks strdup's copies (the program's leak, through libc)
 *   prof usable   with every allocation sampled: malloc_usable_size is the
 *                 request rounded to 16 and realloc within it keeps the block,
 *                 so programs that trim to the usable size keep their samples */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "regress.h"

void* leaked_blocks[40000]; /* global, so the compiler cannot drop the mallocs */
static size_t leaked;

static uint32_t lcg(uint32_t* x) {
  *x = *x * 1103515245u + 12345u;
  return *x >> 8;
}

__attribute__((noinline)) static void leaky_function(int i, size_t n) {
  leaked_blocks[i] = malloc(n);
  memset(leaked_blocks[i], i, n);
  leaked += n;
}

__attribute__((noinline)) void tidy_function(size_t n) {
  char* p = malloc(n);
  memset(p, 1, n);
  __asm__ volatile("" ::"r"(p) : "memory");
  free(p);
}

char* strdup_copies[2000];
__attribute__((noinline)) void strdup_leaker(const char* s) {
  static int n;
  strdup_copies[n++ % 2000] = strdup(s);
}

/* mymalloc_prof_dump(); without MYMALLOC_PROF (the leak report's run) it has
 * nothing to write, and that is no failure. */
static int dump(void) {
  int (*fn)(void) = (int (*)(void))dlsym(RTLD_DEFAULT, "mymalloc_prof_dump");
  if (!getenv("MYMALLOC_PROF")) return 0;
  return fn ? fn() : -1;
}

static int leak(void) {
  uint32_t x = 12345;
  for (int i = 0; i < 40000; ++i) {
    size_t n = 100 + lcg(&x) % 3000;
    leaky_function(i, n);
    tidy_function(2 * n);
    tidy_function(n / 2 + 1);
  }
  printf("%zu\n", leaked);
  return 0;
}

static int rate(void) {
  enum { kBlocks = 60000 };
  static char* v[kBlocks];
  size_t live = 0;
  uint32_t x = 777;
  for (int i = 0; i < kBlocks; ++i) {
    size_t n = 1 + lcg(&x) % 2000;
    if (lcg(&x) % 100 == 0) n = 16384 + lcg(&x) % 65536; /* a few larger ones */
    v[i] = malloc(n);
    if (!v[i]) fail("malloc");
    memset(v[i], 7, n);
    live += n;
  }
  if (dump() != 0) fail("mymalloc_prof_dump");
  printf("%zu\n", live);
  for (int i = 0; i < kBlocks; ++i) free(v[i]);
  return 0;
}

/* ---- threads: blocks handed between threads, contents verified -------------- */
enum { kThreads = 4, kPerThread = 20000 };
static char* handoff[kThreads][kPerThread];
static pthread_barrier_t barrier;

static void verify(const char* p, size_t n, uint32_t seed) {
  if (!intact(p, n, seed)) fail("block contents changed");
}
static size_t size_of(int t, int i) { return 16 + (size_t)((t * 7919 + i * 104729) % 6000); }

static void* worker(void* arg) {
  int t = (int)(intptr_t)arg;
  for (int i = 0; i < kPerThread; ++i) {
    size_t n = size_of(t, i);
    handoff[t][i] = malloc(n);
    if (!handoff[t][i]) fail("malloc");
    fill(handoff[t][i], n, (uint32_t)(t + i));
  }
  pthread_barrier_wait(&barrier);
  /* Free the next thread's blocks: every sampled block is freed by a thread that
   * did not allocate it, some after their allocating thread has exited. */
  int o = (t + 1) % kThreads;
  for (int i = 0; i < kPerThread; i += 2) {
    verify(handoff[o][i], size_of(o, i), (uint32_t)(o + i));
    free(handoff[o][i]);
    handoff[o][i] = NULL;
  }
  return NULL;
}

static int threads(void) {
  pthread_t th[kThreads];
  pthread_barrier_init(&barrier, NULL, kThreads);
  for (int t = 0; t < kThreads; ++t)
    if (pthread_create(&th[t], NULL, worker, (void*)(intptr_t)t)) fail("pthread_create");
  for (int t = 0; t < kThreads; ++t) pthread_join(th[t], NULL);
  pid_t pid = fork();
  if (pid == 0) { /* the child frees its copies and dumps its own profile */
    for (int t = 0; t < kThreads; ++t)
      for (int i = 1; i < kPerThread; i += 2) free(handoff[t][i]);
    _exit(dump() == 0 ? 0 : 3);
  }
  int status;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
    fail("the child's dump");
  for (int t = 0; t < kThreads; ++t)
    for (int i = 1; i < kPerThread; i += 2) {
      verify(handoff[t][i], size_of(t, i), (uint32_t)(t + i));
      free(handoff[t][i]);
    }
  if (dump() != 0) fail("mymalloc_prof_dump");
  return 0;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "leak")) return leak();
  if (!strcmp(mode, "rate")) return rate();
  if (!strcmp(mode, "threads")) return threads();
  if (!strcmp(mode, "usable")) {
    for (size_t n = 1; n < 5000; n += 7) {
      char* p = malloc(n);
      size_t u = malloc_usable_size(p);
      if (u < n || u >= n + 16) fail("usable size of a sampled block");
      memset(p, 5, u);
      if (realloc(p, u) != p || realloc(p, n) != p) fail("realloc within the usable size moved");
      free(p);
    }
    return 0;
  }
  if (!strcmp(mode, "stdio")) {
    for (int i = 0; i < 1000; ++i) {
      char* p = malloc(100 + (size_t)i);
      printf("%d %p\n", i, (void*)p);
      free(p);
    }
    return 0;
  }
  if (!strcmp(mode, "strdup")) {
    static char text[5000];
    memset(text, 'x', sizeof text - 1);
    for (int i = 0; i < 2000; ++i) strdup_leaker(text);
    return 0;
  }
  if (!strcmp(mode, "signal")) {
    void* p = malloc(1000);
    raise(SIGUSR2);
    free(p);
    return 0;
  }
  fail("usage: prof leak|rate|threads|signal|stdio|strdup|usable");
  return 1;
}
