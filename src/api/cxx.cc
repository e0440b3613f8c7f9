// C++ operators new and delete, exported so that C++ programs reach the fast path
// without the hop through libstdc++'s operators (which cost a new+delete pair
// about 20 instructions more: docs/architecture.md).
//
// On failure operator new must call the new-handler and throw std::bad_alloc,
// which needs the C++ runtime this library does not link. So the failure path
// hands the request to the next definition of the same operator (libstdc++'s,
// found with dlsym(RTLD_NEXT)), which loops over the new-handler and our malloc and
// throws. dlsym may allocate; that happens only on this path.
#include <dlfcn.h>

#include <new>

#include "../frontend/allocator.h"

namespace {

template <class Fn>
Fn next_definition(const char* mangled) {
  Fn fn = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, mangled));
  if (!fn) mm::fatal("operator new", "out of memory and no C++ runtime to report it", nullptr);
  return fn;
}

MM_SLOW void* new_failed(const char* mangled, size_t n) {
  return next_definition<void* (*)(size_t)>(mangled)(n);
}
MM_SLOW void* new_nothrow_failed(const char* mangled, size_t n, const std::nothrow_t& t) {
  return next_definition<void* (*)(size_t, const std::nothrow_t&)>(mangled)(n, t);
}
MM_SLOW void* new_aligned_failed(const char* mangled, size_t n, std::align_val_t a) {
  return next_definition<void* (*)(size_t, std::align_val_t)>(mangled)(n, a);
}
MM_SLOW void* new_aligned_nothrow_failed(const char* mangled, size_t n, std::align_val_t a,
                                         const std::nothrow_t& t) {
  return next_definition<void* (*)(size_t, std::align_val_t, const std::nothrow_t&)>(mangled)(n, a,
                                                                                              t);
}

MM_INLINE void* aligned(size_t n, std::align_val_t a) {
  return mm::alloc_aligned(static_cast<size_t>(a), n);
}

}  // namespace

// <new> declares these with default visibility, so they are exported.
void* operator new(size_t n) {
  void* p = mm::alloc(n);
  return MM_LIKELY(p != nullptr) ? p : new_failed("_Znwm", n);
}
void* operator new[](size_t n) {
  void* p = mm::alloc(n);
  return MM_LIKELY(p != nullptr) ? p : new_failed("_Znam", n);
}
void* operator new(size_t n, const std::nothrow_t& t) noexcept {
  void* p = mm::alloc(n);
  return MM_LIKELY(p != nullptr) ? p : new_nothrow_failed("_ZnwmRKSt9nothrow_t", n, t);
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept {
  void* p = mm::alloc(n);
  return MM_LIKELY(p != nullptr) ? p : new_nothrow_failed("_ZnamRKSt9nothrow_t", n, t);
}
void* operator new(size_t n, std::align_val_t a) {
  void* p = aligned(n, a);
  return MM_LIKELY(p != nullptr) ? p : new_aligned_failed("_ZnwmSt11align_val_t", n, a);
}
void* operator new[](size_t n, std::align_val_t a) {
  void* p = aligned(n, a);
  return MM_LIKELY(p != nullptr) ? p : new_aligned_failed("_ZnamSt11align_val_t", n, a);
}
void* operator new(size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
  void* p = aligned(n, a);
  return MM_LIKELY(p != nullptr)
             ? p
             : new_aligned_nothrow_failed("_ZnwmSt11align_val_tRKSt9nothrow_t", n, a, t);
}
void* operator new[](size_t n, std::align_val_t a, const std::nothrow_t& t) noexcept {
  void* p = aligned(n, a);
  return MM_LIKELY(p != nullptr)
             ? p
             : new_aligned_nothrow_failed("_ZnamSt11align_val_tRKSt9nothrow_t", n, a, t);
}

// Every delete is a free: sizes and alignments are known from the block itself.
void operator delete(void* p) noexcept { mm::dealloc(p); }
void operator delete[](void* p) noexcept { mm::dealloc(p); }
void operator delete(void* p, size_t) noexcept { mm::dealloc(p); }
void operator delete[](void* p, size_t) noexcept { mm::dealloc(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { mm::dealloc(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { mm::dealloc(p); }
void operator delete(void* p, std::align_val_t) noexcept { mm::dealloc(p); }
void operator delete[](void* p, std::align_val_t) noexcept { mm::dealloc(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { mm::dealloc(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { mm::dealloc(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept { mm::dealloc(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  mm::dealloc(p);
}
