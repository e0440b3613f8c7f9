// Invariants as code. MM_ASSERT(cond) is checked in debug builds (make debug:
// -DMM_DEBUG, ./libmymalloc-debug.so and the unit tests) and compiles to nothing
// in release builds, so it may sit on fast paths. A failed check writes one line
// naming the condition and its place to stderr and aborts.
#pragma once
#include "common.h"

#if defined(MM_DEBUG)
#define MM_ASSERT(cond) \
  (MM_LIKELY(cond) ? static_cast<void>(0) : ::mm::assert_failed(#cond, __FILE__, __LINE__))
#define MM_DEBUG_ONLY(...) __VA_ARGS__
#else
#define MM_ASSERT(cond) static_cast<void>(0)
#define MM_DEBUG_ONLY(...)
#endif

namespace mm {
[[noreturn]] MM_SLOW void assert_failed(const char* cond, const char* file, int line);
}  // namespace mm
