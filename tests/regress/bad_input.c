/* Misuse is detected and aborts with one line on stderr naming the function and
 * the pointer; nothing is written to stdout. Each case runs in a child process.
 * Usage: bad_input (driver) | bad_input <case> (one case, expected to abort) */
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "regress.h"

static void* g_shared;
static void* free_shared(void* arg) {
  (void)arg;
  free(g_shared);
  return NULL;
}
static sem_t g_go;
static void* free_shared_on_signal(void* arg) {
  sem_wait(&g_go);
  return free_shared(arg);
}
/* Frees g_shared in a thread of its own, which then exits. */
static void free_in_thread(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, free_shared, NULL) || pthread_join(t, NULL)) fail("pthread");
}

/* free(p), then `others` frees of objects of p's size, then free(p) again. */
static void double_free_after(size_t size, int others) {
  void** v = malloc(sizeof(void*) * (size_t)others);
  void* p = malloc(size);
  for (int i = 0; i < others; ++i) v[i] = malloc(size);
  free(p);
  for (int i = 0; i < others; ++i) free(v[i]);
  free(p);
}

static void run_case(const char* name) {
  if (!strcmp(name, "small_double_free")) {
    void* p = malloc(24);
    free(p);
    free(p);
  } else if (!strcmp(name, "small_double_free_flushed")) {
    /* Not the cache's head when freed again: found when the cache goes back to
     * the slabs, whose free bitmaps hold each object once. */
    void* p = malloc(24);
    void* q = malloc(24);
    free(p);
    free(q);
    free(p);
    malloc_trim(0);
    _exit(0);
  } else if (!strcmp(name, "medium_double_free")) {
    void* p = malloc(3000);
    void* q = malloc(3000);
    free(p);
    free(p);
    free(q);
  } else if (!strcmp(name, "cached_medium_double_free")) {
    void* p = malloc(600); /* goes into the thread cache on free */
    void* q = malloc(600);
    free(p);
    free(q);
    free(p);
  } else if (!strcmp(name, "stashed_double_free_more_frees")) {
    /* Medium frees wait in the thread's stash (see thread_cache.h); the double
     * free is found when it drains, here within the frees that follow. */
    void* keep[40];
    for (int i = 0; i < 40; ++i) keep[i] = malloc(400 + 16 * (size_t)i);
    free(keep[0]);
    free(keep[1]);
    free(keep[0]);
    for (int i = 2; i < 40; ++i) free(keep[i]);
    _exit(0);
  } else if (!strcmp(name, "stashed_double_free_next_malloc")) {
    void* p = malloc(2000);
    void* q = malloc(2000);
    free(p);
    free(q);
    free(p);
    p = malloc(3000); /* a slow path drains the stash first */
    _exit(0);
  } else if (!strcmp(name, "large_double_free")) {
    void* p = malloc(1 << 20);
    free(p);
    free(p);
  } else if (!strcmp(name, "never_returned")) {
    static char not_ours[64];
    free(not_ours + 16);
  } else if (!strcmp(name, "grid_double_free_100_between")) {
    /* 400-byte chunks of a fresh heap lie on grid pages, whose frees take the
     * slab path (medium_run.cc): the token catches the second free there. */
    void* keep[101];
    for (int i = 0; i < 101; ++i) keep[i] = malloc(400);
    free(keep[0]);
    for (int i = 1; i < 101; ++i) free(keep[i]);
    free(keep[0]);
  } else if (!strcmp(name, "grid_interior_free")) {
    char* p = malloc(400);
    char* q = malloc(400);
    memset(p, 0, 400);
    free(q + 16); /* no chunk starts there: refused by the start check */
    malloc_trim(0);
  } else if (!strcmp(name, "misaligned_medium")) {
    char* p = malloc(5000);
    free(p + 8);
  } else if (!strcmp(name, "interior_large")) {
    char* p = malloc(1 << 20);
    free(p + 8192);
  } else if (!strcmp(name, "interior_large_realloc")) {
    char* p = malloc(3 << 20);
    p = realloc(p + (1 << 20), 100);
  } else if (!strcmp(name, "medium_realloc_after_free")) {
    /* realloc's medium path trusts a header only when it is a live chunk's */
    char* p = malloc(3000);
    char* keep = malloc(100);
    free(p);
    p = realloc(p, 4000);
    free(keep);
  } else if (!strcmp(name, "interior_medium_realloc")) {
    char* p = malloc(3000);
    p = realloc(p + 64, 6000);
  } else if (!strcmp(name, "large_double_free_merged")) {
    /* b's pages join a's free span: its first page is then inside a free span */
    char* a = malloc(1 << 20);
    char* b = malloc(1 << 20);
    char* c = malloc(1 << 20);
    free(a);
    free(b);
    free(b);
    free(c);
  } else if (!strcmp(name, "interior_large_reused")) {
    /* the first pages of a freed block serve a smaller one; a pointer into the
     * rest of the old block is not a block */
    char* a = malloc(4 << 20);
    free(a);
    char* b = malloc(1 << 20);
    free(a + (2 << 20));
    free(b);
  } else if (!strcmp(name, "small_double_free_100_between")) {
    double_free_after(48, 100);
  } else if (!strcmp(name, "small_double_free_10000_between")) {
    double_free_after(48, 10000);
  } else if (!strcmp(name, "small_double_free_after_thread_exit")) {
    g_shared = malloc(48);
    free_in_thread(); /* freed by a thread that exits */
    free(g_shared);
  } else if (!strcmp(name, "small_double_free_other_thread")) {
    g_shared = malloc(48);
    free(g_shared);
    free_in_thread();
  } else if (!strcmp(name, "medium_double_free_other_thread")) {
    /* The thread exists before the first free: creating it would allocate, and
     * could be handed the freed block (a use after free no allocator can tell). */
    pthread_t t;
    sem_init(&g_go, 0, 0);
    if (pthread_create(&t, NULL, free_shared_on_signal, NULL)) fail("pthread");
    g_shared = malloc(3000);
    free(g_shared);
    sem_post(&g_go);
    pthread_join(t, NULL);
  } else if (!strcmp(name, "misaligned_small_free")) {
    char* p = malloc(48);
    free(p + 8); /* refused by free's start check */
    p = malloc(48);
    _exit(0);
  } else if (!strcmp(name, "interior_small_free_flushed")) {
    char* p = malloc(48);
    free(p + 16); /* refused by free's start check */
    malloc_trim(0);
    _exit(0);
  } else if (!strcmp(name, "forged_medium_tag") || !strcmp(name, "forged_cached_medium_tag")) {
    /* The size word of a chunk enlarged by 128 bytes, its magic kept, as an
     * overflow from the block before it would write it; the neighbour is live. */
    size_t n = !strcmp(name, "forged_medium_tag") ? 3000 : 400;
    char* p = malloc(n);
    char* q = malloc(n);
    memset(q, 7, n);
    *(volatile unsigned long*)((uintptr_t)p - 8) += 128;
    free(p);
    malloc_trim(0); /* drains the stash */
    (void)q;
    _exit(0);
  } else if (!strcmp(name, "overflow_checked")) { /* these run with MYMALLOC_CHECK=1 */
    char* p = malloc(100);
    *(volatile char*)((uintptr_t)p + 100) = 1; /* one byte past the end */
    free(p);
  } else if (!strcmp(name, "overflow_realloc_checked")) {
    char* p = malloc(10);
    *(volatile char*)((uintptr_t)p + 12) = 1;
    p = realloc(p, 100);
  } else if (!strcmp(name, "use_after_free_checked")) {
    char* p = malloc(48);
    free(p);
    p[20] = 1;                                         /* written after the free */
    for (int i = 0; i < 100000; ++i) (void)malloc(48); /* one of them is p again */
    _exit(0);
  } else if (!strcmp(name, "use_after_free_medium_checked")) {
    char* p = malloc(5000);
    free(p);
    p[100] = 1;                                        /* written after the free */
    for (int i = 0; i < 5000; ++i) free(malloc(5000)); /* p leaves the quarantine */
    _exit(0);
  } else if (!strcmp(name, "double_free_checked")) {
    char* p = malloc(5000);
    free(p);
    free(p);
  } else if (!strcmp(name, "medium_free_list_poisoned")) {
    /* Two free 3000-byte chunks in a medium heap's free list (live chunks between
     * them, so they do not merge), then a use-after-free write of a global's
     * address into the link of the last one freed: malloc must not follow it. */
    static char target[8192];
    char* a = malloc(3000);
    char* s1 = malloc(3000);
    char* b = malloc(3000);
    char* s2 = malloc(3000);
    free(a);
    free(b);
    malloc_trim(0); /* drains the stash: both are in the free list now */
    *(void**)b = target + 64;
    void* x = malloc(3000);
    void* y = malloc(3000);
    if (x == target + 64 || y == target + 64) fail("malloc returned the forged address");
    (void)s1;
    (void)s2;
    _exit(0);
  } else if (!strcmp(name, "misaligned_small_realloc")) {
    char* p = malloc(64);
    p = realloc(p + 16, 100);
  } else {
    fail("unknown case");
  }
  exit(0); /* the at-exit drain of the stash must find the medium cases */
}

/* Every one of many 16-byte objects freed a second time, in a child each: after
 * the first frees their thread cache overflowed, and whole batches of them wait
 * in the transfer caches. A batch's head there has no word to spare for the
 * stack's link beside its double-free token (batch_stack.h): each second free
 * must still abort. */
static void double_free_each_16(void) {
  enum { kObjects = 1500 };
  static void* v[kObjects];
  for (int i = 0; i < kObjects; ++i) v[i] = malloc(16);
  for (int i = 0; i < kObjects; ++i) free(v[i]);
  for (int i = 0; i < kObjects; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      int devnull = open("/dev/null", O_WRONLY);
      dup2(devnull, 2);
      free(v[i]);
      _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
      say_num("16-byte object freed twice, not reported: index ", (size_t)i);
      fail("double free in a transfer cache");
    }
  }
  say("double free of each of 1500 16-byte objects: all aborted\n");
}

/* Every 16-byte-aligned interior pointer of a small object, freed: each must
 * abort at that free, before a malloc could hand it out (issue 12's "free(p +
 * 16)"), for every small size and offset, and with objects on many slabs. */
static void interior_each_small(void) {
  size_t cases = 0;
  for (size_t size = 32; size <= 256; size += 16) {
    char* keep[300];
    for (int i = 0; i < 300; ++i) keep[i] = malloc(size); /* several slabs */
    for (size_t off = 16; off < size; off += 16) {
      char* p = keep[(off * 7 + size) % 300];
      pid_t pid = fork();
      if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 2);
        free(p + off);
        char* q = malloc(size);
        if (q == p + off) _exit(3); /* handed out */
        _exit(0);
      }
      int status;
      waitpid(pid, &status, 0);
      if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) {
        say_num("interior free not reported, size ", size);
        say_num("  offset ", off);
        fail("interior free of a small object");
      }
      ++cases;
    }
    for (int i = 0; i < 300; ++i) free(keep[i]);
  }
  say_num("interior frees of small objects, every size and offset, all aborted: ", cases);
}

int main(int argc, char** argv) {
  if (argc == 2 && !strcmp(argv[1], "double_free_each_16")) {
    double_free_each_16();
    return 0;
  }
  if (argc == 2) run_case(argv[1]);
  interior_each_small();
  {
    /* A small cache budget, so that the frees overflow into the transfer caches. */
    pid_t pid = fork();
    if (pid == 0) {
      setenv("MYMALLOC_TCACHE_BYTES", "4096", 1);
      execl(argv[0], argv[0], "double_free_each_16", (char*)NULL);
      _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
      fail("double_free_each_16");
  }
  static const char* cases[] = {"small_double_free",
                                "small_double_free_flushed",
                                "medium_double_free",
                                "cached_medium_double_free",
                                "stashed_double_free_more_frees",
                                "stashed_double_free_next_malloc",
                                "large_double_free",
                                "never_returned",
                                "misaligned_medium",
                                "interior_large",
                                "interior_large_realloc",
                                "large_double_free_merged",
                                "interior_large_reused",
                                "small_double_free_100_between",
                                "small_double_free_10000_between",
                                "small_double_free_after_thread_exit",
                                "small_double_free_other_thread",
                                "medium_double_free_other_thread",
                                "misaligned_small_free",
                                "interior_small_free_flushed",
                                "forged_medium_tag",
                                "forged_cached_medium_tag",
                                "overflow_checked",
                                "overflow_realloc_checked",
                                "use_after_free_checked",
                                "use_after_free_medium_checked",
                                "double_free_checked",
                                "misaligned_small_realloc",
                                "medium_free_list_poisoned",
                                "medium_realloc_after_free",
                                "interior_medium_realloc",
                                "grid_double_free_100_between",
                                "grid_interior_free"};
  static const char* func[] = {
      "free()",   "free()",    "free()",    "free()",    "free()", "free()", "free()",
      "free()",   "free()",    "free()",    "realloc()", "free()", "free()", "free()",
      "free()",   "free()",    "free()",    "free()",    "free()", "free()", "free()",
      "free()",   "free()",    "realloc()", "malloc()",  "free()", "free()", "realloc()",
      "malloc()", "realloc()", "realloc()", "free()",    "free()"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
    int err[2], out[2];
    if (pipe(err) || pipe(out)) fail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
      if (strstr(cases[i], "_checked")) setenv("MYMALLOC_CHECK", "1", 1);
      dup2(err[1], 2);
      dup2(out[1], 1);
      execl(argv[0], argv[0], cases[i], (char*)NULL);
      _exit(127);
    }
    close(err[1]);
    close(out[1]);
    static char buf[4096];
    size_t got = 0;
    for (ssize_t n;
         got < sizeof buf - 1 && (n = read(err[0], buf + got, sizeof buf - 1 - got)) > 0;)
      got += (size_t)n;
    buf[got] = 0;
    char obuf[16];
    ssize_t on = read(out[0], obuf, sizeof obuf);
    int status;
    waitpid(pid, &status, 0);
    close(err[0]);
    close(out[0]);
    say(cases[i]);
    say(": ");
    say(buf[0] ? buf : "(no message)\n");
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT) fail("not aborted");
    if (!strstr(buf, "mymalloc: ") || !strstr(buf, func[i]) || !strstr(buf, "0x")) fail("message");
    if (strchr(buf, '\n') != buf + strlen(buf) - 1) fail("more than one line");
    if (on > 0) fail("wrote to stdout");
  }
  say("bad_input: ok\n");
  return 0;
}
