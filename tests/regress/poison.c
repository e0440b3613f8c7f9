/* Free-list poisoning, as an attacker with a use-after-free write does it:
 * a = malloc(n); b = malloc(n); free(a); free(b); then the address of a stack or
 * global buffer is written into the first word of b (or of a), and malloc(n) is
 * called twice. An allocator that follows the forged link returns the attacker's
 * buffer (a hijack). Each variant runs in a child process; aborting is the right
 * answer, as is returning blocks that are not the attacker's. Fails on any hijack.
 * Usage: poison (all variants; last line "poison: N variants, 0 hijacks"). */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "regress.h"

static char g_target[8192] __attribute__((aligned(64)));

/* Exit status 3: hijacked; 0: not (the mallocs returned other blocks). */
static void run_variant(size_t n, int into_a, int on_stack) {
  char stack_target[8192] __attribute__((aligned(64)));
  char* target = on_stack ? stack_target : g_target;
  void* a = malloc(n);
  void* b = malloc(n);
  free(a);
  free(b);
  memcpy(into_a ? a : b, &target, sizeof target); /* the use-after-free write */
  void* x = malloc(n);
  void* y = malloc(n);
  int hijacked = (char*)x == target || (char*)y == target;
  _exit(hijacked ? 3 : 0);
}

int main(void) {
  static const size_t sizes[] = {32, 48, 64, 96, 128, 160, 192, 256, 400, 512, 1000, 2048, 4096};
  int variants = 0, hijacks = 0, aborted = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; ++i) {
    for (int into_a = 0; into_a < 2; ++into_a) {
      for (int on_stack = 0; on_stack < 2; ++on_stack) {
        pid_t pid = fork();
        if (pid < 0) fail("fork");
        if (pid == 0) {
          int devnull = open("/dev/null", O_WRONLY);
          if (devnull >= 0) dup2(devnull, 2); /* the abort message */
          run_variant(sizes[i], into_a, on_stack);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid) fail("waitpid");
        ++variants;
        if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
          ++hijacks;
          printf("hijacked: size %zu, write into %s, %s target\n", sizes[i], into_a ? "a" : "b",
                 on_stack ? "stack" : "global");
        } else if (WIFSIGNALED(st)) {
          ++aborted;
        }
      }
    }
  }
  printf("poison: %d variants, %d hijacks, %d aborted\n", variants, hijacks, aborted);
  return hijacks ? 1 : 0;
}
