#include "common.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lock.h"

namespace mm {

ErrnoKeeper::ErrnoKeeper() : saved_(errno) {}
ErrnoKeeper::~ErrnoKeeper() { errno = saved_; }

void write_err(const char* s) {
  size_t n = strlen(s);
  while (n > 0) {
    ssize_t w = write(2, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

namespace {
// Writes v in base 10 or 16 ending just before end; returns where it starts.
char* format_num(char* end, uint64_t v, int base) {
  char* p = end;
  *p = 0;
  do {
    *--p = "0123456789abcdef"[v % static_cast<uint64_t>(base)];
    v /= static_cast<uint64_t>(base);
  } while (v);
  return p;
}
}  // namespace

void write_err_num(uint64_t v, int base) {
  char buf[24];
  char* p = format_num(buf + sizeof(buf) - 1, v, base);
  if (base == 16) write_err("0x");
  write_err(p);
}

namespace {
// Appends s to the line buffer, never past its end.
char* put(char* at, char* end, const char* s) {
  while (*s && at < end) *at++ = *s++;
  return at;
}
}  // namespace

void fatal(const char* func, const char* what, const void* ptr) {
  // One line, one write: "mymalloc: free(): double free of 0x1234"
  char line[160];
  char* end = line + sizeof(line) - 1;
  char* at = put(line, end, "mymalloc: ");
  at = put(at, end, func);
  at = put(at, end, "(): ");
  at = put(at, end, what);
  if (ptr) {
    char num[24];
    at = put(at, end, " 0x");
    at = put(at, end, format_num(num + sizeof(num) - 1, reinterpret_cast<uintptr_t>(ptr), 16));
  }
  *at++ = '\n';
  *at = 0;
  write_err(line);
  abort();
}

static long futex(uint32_t* addr, int op, uint32_t val) {
  return syscall(SYS_futex, addr, op, val, nullptr, nullptr, 0);
}

void Lock::lock_slow() {
  ErrnoKeeper keep;
  // Spin briefly: critical sections are a few hundred instructions at most.
  for (int i = 0; i < 1024; ++i) {
    uint32_t expected = 0;
    if (__atomic_load_n(&state_, __ATOMIC_RELAXED) == 0 &&
        __atomic_compare_exchange_n(&state_, &expected, 1, false, __ATOMIC_ACQUIRE,
                                    __ATOMIC_RELAXED))
      return;
    __builtin_ia32_pause();
  }
  while (__atomic_exchange_n(&state_, 2, __ATOMIC_ACQUIRE) != 0)
    futex(&state_, FUTEX_WAIT_PRIVATE, 2);
}

void Lock::wake() {
  ErrnoKeeper keep;
  futex(&state_, FUTEX_WAKE_PRIVATE, 1);
}

}  // namespace mm
