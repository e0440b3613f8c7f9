// Call stacks for the heap profiler: captured with the unwinder of libgcc
// (_Unwind_Backtrace), which reads the .eh_frame tables every Debian binary
// carries, so programs built -O2 without frame pointers unwind; and named with
// dladdr, or the file's own symbol table for functions it does not export.
//
// Nothing here allocates through malloc once stack_init has run: glibc's
// backtrace() loads libgcc_s on first use (and allocates); stack_init does that
// at start-up, from a constructor, outside every allocator lock.
#pragma once
#include <unwind.h>

#include "../common/common.h"

namespace mm {

constexpr int kMaxFrames = 64;

struct StackCapture {
  uintptr_t* pcs;
  int max, n;
  bool in_self;  // still in the allocator's own frames
};
using BacktraceFn = _Unwind_Reason_Code (*)(_Unwind_Trace_Fn, void*);
extern MM_HIDDEN BacktraceFn g_backtrace;  // set by stack_init
_Unwind_Reason_Code stack_on_frame(_Unwind_Context* ctx, void* capture);

// Finds the unwinder (already loaded, or dlopen("libgcc_s.so.1")) and the range
// of this library's code; false when there is no unwinder.
bool stack_init();
// The return addresses of the callers, innermost first, the allocator's own
// frames left out; at most max. 0 before stack_init or without an unwinder.
// Inline: a frame fewer to unwind on every sample.
MM_INLINE int stack_capture(uintptr_t* pcs, int max) {
  BacktraceFn bt = __atomic_load_n(&g_backtrace, __ATOMIC_ACQUIRE);
  if (!bt) return 0;
  StackCapture c{pcs, max, 0, true};
  bt(stack_on_frame, &c);
  return c.n;
}
// "function+0x1c (module)", or "module+0x1234" when no symbol covers pc.
void stack_describe(Out& out, uintptr_t pc);
// Whether pc lies in the dynamic loader or in one of the C library's internal
// functions (stdio buffers, locale, time zone, name service): their blocks live as
// long as the process and are not the program's leaks.
bool stack_libc_internal(uintptr_t pc);

}  // namespace mm
