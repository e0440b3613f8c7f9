// A bin of this thread's cache as malloc's and free's fast paths reach it: by
// t_cache's offset from the thread pointer (tp: initial-exec TLS, one load from
// the GOT) and the bin's offset from t_cache divided by kScale (ix: malloc's
// rounded size, scale 1; free's class byte, scale 8). On x86-64 each access is
// then one instruction with an %fs-relative operand, %fs:disp(tp, ix, kScale).
// Through a pointer, GCC first forms the bin's address - loads %fs:0 and adds
// both offsets - which cost malloc and free two instructions each: 58 -> 54 per
// malloc+free pair (ci/instr-per-pair.sh).
//
// GCC does not address TLS with an index register itself, so the accesses are
// one-instruction asm statements. Each names t_cache as a memory operand ("m" to
// read, "+m" to write), which orders it against every other access to the
// cache with no instruction and no barrier for the rest of memory. Sanitizer
// builds and other architectures take the same calls through the bin's address.
#pragma once
#include <stddef.h>

#include "thread_cache.h"

namespace mm {

static_assert(offsetof(ThreadCache, bins) == 0,
              "a bin's offset from t_cache is its offset in bins");

#if defined(__x86_64__) && !defined(MYMALLOC_SANITIZER_BUILD)
#define MM_TLS_BIN_ASM 1
// The operand of field kDisp bytes into the bin: %fs:kDisp(tp, ix, kScale).
#define MM_TLS_AT "%%fs:%c[d](%[tp],%[ix],%c[s])"
#define MM_TLS_IN(disp) [tp] "r"(tp), [ix] "r"(ix), [d] "i"(disp), [s] "i"(kScale)
#endif

template <unsigned kScale>
struct TlsBin {
  uintptr_t tp;  // t_cache's offset from the thread pointer
  uintptr_t ix;  // the bin's offset from t_cache / kScale

  // Starts entry (thread_cache.h) of this bin, relative to the bin.
  static constexpr size_t kStart = offsetof(ThreadCache, starts) - offsetof(ThreadCache, bins);

  // The bin's encoded head (Bin::link).
  MM_INLINE uintptr_t link() const {
#ifdef MM_TLS_BIN_ASM
    uintptr_t v;
    asm("mov " MM_TLS_AT ", %[v]" : [v] "=r"(v) : MM_TLS_IN(offsetof(Bin, link)), "m"(t_cache));
    return v;
#else
    return bin().link;
#endif
  }
  MM_INLINE void set_link(uintptr_t v) const {
#ifdef MM_TLS_BIN_ASM
    asm("mov %[v], " MM_TLS_AT : "+m"(t_cache) : [v] "r"(v), MM_TLS_IN(offsetof(Bin, link)));
#else
    bin().link = v;
#endif
  }
  // One object out: its place back in the room.
  MM_INLINE void took_one() const {
#ifdef MM_TLS_BIN_ASM
    asm("addl $1, " MM_TLS_AT : "+m"(t_cache) : MM_TLS_IN(offsetof(Bin, room)) : "cc");
#else
    bin().remove(1);
#endif
  }
  // Takes a place for one object in: false when the bin was full (room < 0 now).
  MM_INLINE bool took_place() const {
#ifdef MM_TLS_BIN_ASM
    bool full;
    asm("subl $1, " MM_TLS_AT : "+m"(t_cache), "=@ccs"(full) : MM_TLS_IN(offsetof(Bin, room)));
    return !full;
#else
    return --bin().room >= 0;
#endif
  }
  // passes_start_check (thread_cache.h) against this bin's entry: imul and cmp,
  // each with its operand in the cache.
  MM_INLINE bool passes_start_check(const void* p) const {
#ifdef MM_TLS_BIN_ASM
    uint64_t x = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p));
    bool below;
    asm("imul " MM_TLS_AT ", %[x]"
        : [x] "+r"(x)
        : MM_TLS_IN(kStart + offsetof(StartCheck, m)), "m"(t_cache)
        : "cc");
    asm("cmp %[x], " MM_TLS_AT
        : "=@ccb"(below)
        : [x] "r"(x), MM_TLS_IN(kStart + offsetof(StartCheck, limit)), "m"(t_cache));
    return !below;
#else
    return mm::passes_start_check(p, start_check_of(bin()));
#endif
  }
  // may_link and bin_link (thread_cache.h) on this bin, room aside: what free
  // checks before it links p, and the link.
  MM_INLINE bool may_link(void* p) const {
#ifdef MM_TLS_BIN_ASM
    return passes_start_check(p) && !is_cached_chunk(p);
#else
    return mm::may_link(bin(), p);
#endif
  }
  MM_INLINE void link(void* p) const {
#ifdef MM_TLS_BIN_ASM
    mark_cached(p);
    *static_cast<uintptr_t*>(p) = link();
    set_link(encode_object(p));
#else
    bin_link(bin(), p);
#endif
  }
  // Pops the head for malloc into out, or returns false (the bin empty, not set up,
  // or its head bad), leaving the room to the caller. The head's link moves into
  // the bin as it is; it is read at link + secret through the addressing mode, so
  // that the chain from one pop to the next is two loads and a store (common.h).
  MM_INLINE bool pop(void*& out) const {
    const uintptr_t e = link(), s = g_secret;
    void* p = reinterpret_cast<void*>(e + s);  // decode_link(e), the end kNullLink
    // Returned in rax: GCC otherwise keeps it elsewhere and moves it (one
    // instruction).
    MM_PIN_REG("+a", p);
    // Misaligned: the end of the list (kNullLink), a zero link before set-up, or
    // a forged or misaligned free (check_head): the slow path refills, sets up,
    // or reports. One test for all: no object is at zero, and no link decodes
    // there but one forged with the secret.
    if (MM_UNLIKELY(reinterpret_cast<uintptr_t>(p) & 15)) return false;
#ifdef MM_TLS_BIN_ASM
    uintptr_t next;
    asm("mov (%[e],%[s]), %[v]"
        : [v] "=r"(next)
        : [e] "r"(e), [s] "r"(s), "m"(*static_cast<const uintptr_t*>(p)));
#else
    (void)s;
    uintptr_t next = *static_cast<const uintptr_t*>(p);
#endif
    set_link(next);
    out = p;
    return true;
  }
  MM_INLINE Bin& bin() const {
    return *reinterpret_cast<Bin*>(reinterpret_cast<char*>(&t_cache) + ix * kScale);
  }
};

#undef MM_TLS_AT
#undef MM_TLS_IN
#undef MM_TLS_BIN_ASM

// t_cache's offset from the thread pointer: GCC folds the difference to the GOT
// load of the initial-exec offset.
MM_INLINE uintptr_t t_cache_tp_offset() {
  return reinterpret_cast<uintptr_t>(&t_cache) -
         reinterpret_cast<uintptr_t>(__builtin_thread_pointer());
}

}  // namespace mm
