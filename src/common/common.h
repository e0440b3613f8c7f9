// Shared constants and helpers. Everything here is header-only and free of libstdc++.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define MM_LIKELY(x) __builtin_expect(!!(x), 1)
#define MM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define MM_INLINE inline __attribute__((always_inline))
#define MM_SLOW __attribute__((noinline, cold))
// -fvisibility=hidden covers definitions only; an extern declaration marked hidden
// lets the fast paths load a global with one RIP-relative instruction, not via the GOT.
#define MM_HIDDEN __attribute__((visibility("hidden")))
// Tells the register allocator where a value lives (constraint "+r": in one
// register, derived once; "+c": in rcx), with no instruction: the fast paths use
// it where GCC would otherwise spend an instruction.
#if defined(__x86_64__) && !defined(MYMALLOC_SANITIZER_BUILD)
#define MM_PIN_REG(constraint, var) asm("" : constraint(var))
#else
#define MM_PIN_REG(constraint, var) ((void)0)
#endif

namespace mm {

constexpr size_t kPageShift = 13;  // 8 KiB pages, as in tcmalloc
constexpr size_t kPageSize = size_t{1} << kPageShift;
constexpr size_t kAlignment = 16;  // every pointer we hand out, like glibc on x86-64

// Largest request served from size-class slabs, and largest served through the
// thread cache (medium chunks up to this size are cached too).
constexpr size_t kSmallMax = 256;
constexpr size_t kCachedMax = 1024;

MM_INLINE constexpr size_t align_up(size_t v, size_t a) { return (v + a - 1) & ~(a - 1); }
MM_INLINE constexpr size_t pages_for(size_t bytes) { return (bytes + kPageSize - 1) >> kPageShift; }
MM_INLINE uintptr_t page_of(const void* p) { return reinterpret_cast<uintptr_t>(p) >> kPageShift; }
MM_INLINE void* page_addr(uintptr_t page) { return reinterpret_cast<void*>(page << kPageShift); }

// The per-process secret (secret.cc): kernel randomness from AT_RANDOM, fixed
// before any object is freed. Tokens and links that a program's data or an
// attacker's write must not match derive from it.
extern MM_HIDDEN uintptr_t g_secret;
// A second one for the cache token (thread_cache.h), so that a token read through a
// use after free tells nothing about the link encoding.
extern MM_HIDDEN uintptr_t g_token_secret;
void secret_init();

// Intrusive singly linked object lists: the first word of a free object is the
// link, stored as `next - secret` (the secret odd, so never 16-byte aligned): a
// use-after-free write of an address (or of zero) into a freed object decodes to
// a misaligned value, which bin_pop refuses, instead of steering the next malloc
// (glibc's safe-linking idea, keyed by the secret as mimalloc's secure mode
// does). An addition rather than glibc's xor with the link's own address: a bin
// keeps its head encoded (Bin::link), so malloc moves the head's link into the
// bin as it is, and reaches the object at link + secret through the addressing
// mode; the decode is then off malloc's loop-carried chain (head -> link ->
// head), which an xor after the load lengthened (threadtest 8 B, 7%).
//
// The end of a list is address kNullLink, not zero: misaligned like every
// corrupted link, so malloc's fast path tells an empty bin and a bad head apart
// from a good one with one test (TlsBin::pop), and only its slow path tells the
// two apart (decode_link: nullptr for the end).
constexpr uintptr_t kNullLink = 8;
// An object's link: v is an object, never nullptr (free's fast path).
MM_INLINE uintptr_t encode_object(const void* v) {
  return reinterpret_cast<uintptr_t>(v) - g_secret;
}
MM_INLINE uintptr_t encode_link(const void* v) {
  return (v ? reinterpret_cast<uintptr_t>(v) : kNullLink) - g_secret;
}
MM_INLINE void* decode_link(uintptr_t e) {
  uintptr_t v = e + g_secret;
  return v == kNullLink ? nullptr : reinterpret_cast<void*>(v);
}
// Whether v, a link decoded either way (+ secret, or decode_link), ends a list.
MM_INLINE bool ends_list(const void* v) {
  return (reinterpret_cast<uintptr_t>(v) & ~kNullLink) == 0;
}
struct LinkRef {
  void** slot;
  MM_INLINE operator void*() const { return decode_link(reinterpret_cast<uintptr_t>(*slot)); }
  MM_INLINE LinkRef& operator=(void* v) {
    *slot = reinterpret_cast<void*>(encode_link(v));
    return *this;
  }
  MM_INLINE LinkRef& operator=(const LinkRef& o) { return *this = static_cast<void*>(o); }
};
MM_INLINE LinkRef next_of(void* obj) { return LinkRef{static_cast<void**>(obj)}; }
// Objects in a list, counting at most limit + 1 (for checks: a double free can
// make a list a cycle).
inline size_t list_length(void* head, size_t limit) {
  size_t n = 0;
  for (; head && n <= limit; head = next_of(head)) ++n;
  return n;
}

// free() preserves errno (POSIX 2024), so the few system calls a free can reach
// (futex waits, madvise) keep it as it was.
class ErrnoKeeper {
 public:
  ErrnoKeeper();
  ~ErrnoKeeper();

 private:
  int saved_;
};

// Diagnostics go to fd 2 with write(2), never through stdio (which may allocate).
void write_all(int fd, const char* s, size_t n);  // retries short writes and EINTR
void write_err(const char* s);
void write_err_n(const char* s, size_t n);  // the first n bytes of s
void write_err_num(uint64_t v, int base = 10);
// Writes v in base 10 or 16 (no prefix) ending just before end, which gets the
// terminating zero; returns where the digits start. Needs 21 bytes before end.
char* format_num(char* end, uint64_t v, int base = 10);
[[noreturn]] void fatal(const char* func, const char* what, const void* ptr);

// Buffered writes to a file descriptor, without allocating: the statistics and
// the heap profiles. Flushed when full and when it goes out of scope.
class Out {
 public:
  explicit Out(int fd) : fd_(fd) {}
  ~Out() { flush(); }
  Out(const Out&) = delete;
  Out& operator=(const Out&) = delete;
  Out& str(const char* s) { return str_n(s, __builtin_strlen(s)); }
  Out& str_n(const char* s, size_t n);
  Out& num(uint64_t v, int base = 10);  // base 16 without "0x"
  Out& hex(uint64_t v, int width);      // 0x, zero-padded to width digits
  void flush();

 private:
  int fd_;
  size_t len_ = 0;
  char buf_[4096];
};

}  // namespace mm
