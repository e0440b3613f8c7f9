// MYMALLOC_CHECK=1: every call through checked paths, for finding the bug that
// corrupts a program's memory. The thread caches are off (every call reaches the
// slow paths, where these hooks are; the fast paths pay nothing), each block gets
// a trailer after the requested bytes (a canary, then the requested size), freed
// blocks are filled with a pattern: a slab object's is verified by the next
// allocation of the same object; a medium or large block waits in a quarantine
// (up to kQuarantineBytes, first in first out), still the program's as far as the
// allocator knows, and is verified as it leaves it for the heap. Reports, one
// line each, then abort: a write past the end of a block (at free or realloc), a
// write into a freed block (when it is allocated again, or leaves the
// quarantine), a double free.
#pragma once
#include "../common/common.h"
#include "../common/lock.h"

namespace mm {

void* checked_alloc(size_t n, size_t align);  // align 0: the default 16
void checked_free(void* p, const char* func);
void* checked_realloc(void* p, size_t n);
size_t checked_usable_size(void* p);  // the size the program asked for
Lock& quarantine_lock();              // for the fork handlers' table

// The allocator's own entry points without the checks (allocator.cc).
void* alloc_unchecked(size_t n);
void dealloc_unchecked(void* p);
size_t usable_size_unchecked(void* p, const char* func = "malloc_usable_size");
void* alloc_aligned_unchecked(size_t align, size_t n);

}  // namespace mm
