/* Helpers for the LD_PRELOAD regression programs. They avoid stdio while a data
 * limit is in force (stdio buffers come from malloc too). */
#ifndef REGRESS_H
#define REGRESS_H
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static inline void say(const char* s) { (void)!write(2, s, strlen(s)); }
static inline void say_num(const char* name, size_t v) {
  char buf[32];
  int i = 31;
  buf[i] = 0;
  do buf[--i] = (char)('0' + v % 10);
  while ((v /= 10) && i > 0);
  say(name);
  say(&buf[i]);
  say("\n");
}
static inline void fail(const char* what) {
  say("FAIL: ");
  say(what);
  say("\n");
  exit(1);
}

/* The number after `key` in /proc/self/<file>, read without stdio. */
static inline size_t proc_number(const char* file, const char* key) {
  static char buf[4096];
  char path[64] = "/proc/self/";
  strcat(path, file);
  int fd = open(path, O_RDONLY);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char* p = strstr(buf, key);
  return p ? (size_t)strtoul(p + strlen(key), NULL, 10) : 0;
}

/* VmData of this process in bytes. */
static inline size_t vmdata_bytes(void) { return proc_number("status", "VmData:") * 1024; }

/* Resident bytes of this process. */
static inline size_t rss_bytes(void) { return proc_number("status", "VmRSS:") * 1024; }

static size_t g_peak_vmdata, g_base_vmdata;
static inline void sample_vmdata(void) {
  size_t v = vmdata_bytes();
  if (v > g_peak_vmdata) g_peak_vmdata = v;
}

/* RLIMIT_DATA = what the process has now + factor * live bytes + 256 KiB. */
static inline void limit_data(size_t live, double factor) {
  g_base_vmdata = vmdata_bytes();
  size_t lim = g_base_vmdata + (size_t)((double)live * factor) + 256 * 1024;
  struct rlimit rl = {lim, lim};
  if (setrlimit(RLIMIT_DATA, &rl) != 0) fail("setrlimit");
}

static inline void report_peak(void) {
  sample_vmdata();
  say_num("peak_vmdata_growth_kb=", (g_peak_vmdata - g_base_vmdata) / 1024);
}

/* Pattern fill and check keyed by a seed: overlapping blocks would clobber. */
static inline void fill(void* p, size_t n, uint32_t seed) {
  unsigned char* c = (unsigned char*)p;
  for (size_t i = 0; i < n; ++i) c[i] = (unsigned char)(seed * 131 + i * 7);
}
static inline int intact(const void* p, size_t n, uint32_t seed) {
  const unsigned char* c = (const unsigned char*)p;
  for (size_t i = 0; i < n; ++i)
    if (c[i] != (unsigned char)(seed * 131 + i * 7)) return 0;
  return 1;
}
static uint64_t g_rng = 88172645463325252ull;
static inline uint32_t rnd(void) {
  g_rng ^= g_rng << 13;
  g_rng ^= g_rng >> 7;
  g_rng ^= g_rng << 17;
  return (uint32_t)g_rng;
}
static inline void* xmalloc(size_t n) {
  void* p = malloc(n);
  if (!p) fail("malloc returned NULL under the limit");
  return p;
}
#endif
