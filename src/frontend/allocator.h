// The allocator's entry points with glibc semantics, as the api layer and the unit
// tests call them. Nothing here replaces the process's malloc: src/api does that.
#pragma once
#include "../common/common.h"
#include "thread_cache.h"

namespace mm {

MM_INLINE void* alloc(size_t n) { return alloc_fast(n); }
MM_INLINE void dealloc(void* p) { dealloc_fast(p); }
void* alloc_zeroed(size_t count, size_t size);  // calloc
void* realloc_block(void* p, size_t n);         // realloc
void* alloc_aligned(size_t align, size_t n);    // align: a power of two
size_t usable_size(void* p);                    // malloc_usable_size; 0 for null

}  // namespace mm
