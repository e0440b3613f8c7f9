#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

namespace mm {

ErrnoKeeper::ErrnoKeeper() : saved_(errno) {}
ErrnoKeeper::~ErrnoKeeper() { errno = saved_; }

void write_err(const char* s) { write_err_n(s, strlen(s)); }

void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void write_err_n(const char* s, size_t n) { write_all(2, s, n); }

char* format_num(char* end, uint64_t v, int base) {
  char* p = end;
  *p = 0;
  do {
    *--p = "0123456789abcdef"[v % static_cast<uint64_t>(base)];
    v /= static_cast<uint64_t>(base);
  } while (v);
  return p;
}

Out& Out::str_n(const char* s, size_t n) {
  while (n > 0) {
    if (len_ == sizeof buf_) flush();
    size_t k = n < sizeof buf_ - len_ ? n : sizeof buf_ - len_;
    __builtin_memcpy(buf_ + len_, s, k);
    len_ += k;
    s += k;
    n -= k;
  }
  return *this;
}

Out& Out::num(uint64_t v, int base) {
  char buf[24];
  return str(format_num(buf + sizeof(buf) - 1, v, base));
}

Out& Out::hex(uint64_t v, int width) {
  char buf[24];
  char* p = format_num(buf + sizeof(buf) - 1, v, 16);
  str("0x");
  for (long pad = width - (buf + sizeof(buf) - 1 - p); pad > 0; --pad) str("0");
  return str(p);
}

void Out::flush() {
  write_all(fd_, buf_, len_);
  len_ = 0;
}

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
