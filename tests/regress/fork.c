/* fork while other threads allocate: the child must be able to allocate at once
 * (every allocator lock is taken around fork and released in both processes). */
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>

#include "regress.h"

static atomic_int g_stop;

static void* churn(void* arg) {
  uint64_t s = (uint64_t)(uintptr_t)arg;
  void* slot[64] = {0};
  while (!atomic_load(&g_stop)) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    int k = (int)(s >> 58);
    free(slot[k]);
    size_t n = (size_t)(s >> 20) % 70000 + 1;
    slot[k] = malloc(n);
    memset(slot[k], 1, n < 64 ? n : 64);
  }
  for (int k = 0; k < 64; ++k) free(slot[k]);
  return NULL;
}

int main(void) {
  pthread_t t[4];
  for (int i = 0; i < 4; ++i) pthread_create(&t[i], NULL, churn, (void*)(uintptr_t)(i + 1));
  for (int round = 0; round < 200; ++round) {
    pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
      /* Child: allocate in every tier straight away, from the only thread left. */
      for (int i = 0; i < 200; ++i) {
        size_t n = (size_t)(i * 977) % 300000 + 1;
        char* p = malloc(n);
        if (!p) _exit(2);
        memset(p, 3, n);
        p = realloc(p, n * 2);
        if (!p || p[n - 1] != 3) _exit(3);
        free(p);
      }
      pthread_t ct;
      if (pthread_create(&ct, NULL, churn, (void*)1) != 0) _exit(4);
      atomic_store(&g_stop, 1);
      pthread_join(ct, NULL);
      _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) != pid) fail("waitpid");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail("child could not allocate after fork");
  }
  atomic_store(&g_stop, 1);
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  say("fork: ok\n");
  return 0;
}
