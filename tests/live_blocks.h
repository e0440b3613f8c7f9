// The random heap tests' live blocks: each filled with a byte of its size and
// checked (every 97th byte) before it is freed or resized; and their xorshift64.
#pragma once
#include <doctest/doctest.h>
#include <stdint.h>
#include <string.h>

struct LiveBlock {
  unsigned char* p;
  size_t n;
  void fill() const { memset(p, static_cast<int>(n & 0xff), n); }
  void check() const {
    for (size_t k = 0; k < n; k += 97) REQUIRE(p[k] == static_cast<unsigned char>(n & 0xff));
  }
};

struct XorShift {
  uint64_t s;
  uint64_t operator()() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
};
