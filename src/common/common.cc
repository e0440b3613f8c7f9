#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace mm {

ErrnoKeeper::ErrnoKeeper() : saved_(errno) {}
ErrnoKeeper::~ErrnoKeeper() { errno = saved_; }

void write_err(const char* s) { write_err_n(s, strlen(s)); }

void write_err_n(const char* s, size_t n) {
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

}  // namespace mm
