// A {pointer, tag} pair updated by one double-width compare-and-swap, for ABA-safe
// lock-free stacks.
//
// Release builds use libatomic_ops' MIT-licensed AO_compare_double_and_swap_double
// (cmpxchg16b with -mcx16); we never link libatomic_ops_gpl. ThreadSanitizer cannot
// see through its inline assembly, so the sanitizer builds use the compiler's
// 16-byte __atomic builtins, which TSan instruments; both have the same semantics.
#pragma once
#include "common.h"

#if defined(MYMALLOC_SANITIZER_BUILD)
namespace mm {
struct alignas(16) TaggedPtr {
  void* ptr;
  uintptr_t tag;
};
MM_INLINE TaggedPtr tagged_load(TaggedPtr* a) {
  unsigned __int128 v = __atomic_load_n(reinterpret_cast<unsigned __int128*>(a), __ATOMIC_ACQUIRE);
  TaggedPtr t;
  __builtin_memcpy(&t, &v, sizeof t);
  return t;
}
MM_INLINE bool tagged_cas(TaggedPtr* a, TaggedPtr expect, TaggedPtr desired) {
  unsigned __int128 e, d;
  __builtin_memcpy(&e, &expect, sizeof e);
  __builtin_memcpy(&d, &desired, sizeof d);
  return __atomic_compare_exchange_n(reinterpret_cast<unsigned __int128*>(a), &e, d, false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
}  // namespace mm
#else
#include <atomic_ops.h>
#if !defined(AO_HAVE_compare_double_and_swap_double)
#error "mymalloc needs AO_compare_double_and_swap_double from libatomic_ops (x86-64, -mcx16)"
#endif
namespace mm {
struct alignas(16) TaggedPtr {
  void* ptr;
  uintptr_t tag;
};
static_assert(sizeof(TaggedPtr) == sizeof(AO_double_t));
MM_INLINE TaggedPtr tagged_load(TaggedPtr* a) {
  // Two plain loads may tear; a torn snapshot only makes the following CAS fail.
  TaggedPtr t;
  t.tag = __atomic_load_n(&a->tag, __ATOMIC_ACQUIRE);
  t.ptr = __atomic_load_n(&a->ptr, __ATOMIC_ACQUIRE);
  return t;
}
MM_INLINE bool tagged_cas(TaggedPtr* a, TaggedPtr expect, TaggedPtr desired) {
  return AO_compare_double_and_swap_double_full(
      reinterpret_cast<volatile AO_double_t*>(a), reinterpret_cast<AO_t>(expect.ptr),
      static_cast<AO_t>(expect.tag), reinterpret_cast<AO_t>(desired.ptr),
      static_cast<AO_t>(desired.tag));
}
}  // namespace mm
#endif
