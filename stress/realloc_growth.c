/* realloc growth: strings appended to until they are tens of MiB, as a log buffer,
 * a JSON writer or perl's string substitution do, several at once so that they
 * block each other from growing in place, with small allocations in between.
 * Usage: realloc_growth [strings=8] [final_mib=32]
 * First stdout line: seconds. Exits 1 if contents are lost across realloc. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int main(int argc, char** argv) {
  int nstr = argc > 1 ? atoi(argv[1]) : 8;
  size_t final = (argc > 2 ? strtoul(argv[2], NULL, 10) : 32) << 20;
  if (nstr < 1 || nstr > 64) nstr = 8;
  char* str[64] = {0};
  size_t len[64] = {0};
  void* junk[256] = {0};
  uint64_t s = 3;
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int done = 0; done < nstr;) {
    done = 0;
    for (int k = 0; k < nstr; ++k) {
      if (len[k] >= final) {
        ++done;
        continue;
      }
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      size_t add = 1 + s % 4096;
      char* q = realloc(str[k], len[k] + add);
      if (!q) return 1;
      memset(q + len[k], 'a' + k, add);
      str[k] = q;
      len[k] += add;
      int j = (int)((s >> 32) % 256);
      free(junk[j]);
      junk[j] = malloc(16 + (s >> 40) % 2000);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  int bad = 0;
  for (int k = 0; k < nstr; ++k) {
    for (size_t i = 0; i < len[k]; i += 4093) bad |= str[k][i] != 'a' + k;
    free(str[k]);
  }
  for (int j = 0; j < 256; ++j) free(junk[j]);
  printf("%.4f\n", (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9);
  return bad;
}
