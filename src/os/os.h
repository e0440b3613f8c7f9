// The os layer: address space from the kernel and back.
//
// Growth goes through sbrk in small steps so that the heap is one contiguous range
// that RLIMIT_DATA charges exactly for what we use; mmap is the fallback when the
// break cannot move. Nothing here ever reserves a large writable range.
#pragma once
#include "../common/common.h"

namespace mm::os {

// Returns `bytes` (a multiple of kPageSize) of fresh, zeroed, kPageSize-aligned memory,
// or nullptr with errno ENOMEM. Caller serialises (the page heap lock).
void* grow(size_t bytes);

// Gives the physical pages back; the range stays mapped and reads as zero afterwards.
// Never munmap: a lock-free list may still read a word of it.
void purge(void* p, size_t bytes);
// Maps the pages of [p, p + bytes) writable now, in one call (MADV_POPULATE_WRITE,
// Linux 5.14), for memory about to be written: each page the program would fault
// in alone costs a trap (about 10 us on a paravirtualised host, 5 us a page in
// one call). False where the kernel lacks it or has no memory to give (nothing
// else happens then: the pages fault in as they are touched).
bool populate(void* p, size_t bytes);

// Private anonymous memory for metadata, 4 KiB granular. nullptr on failure.
void* map(size_t bytes);

// Under a data limit: replaces the range by a private read-only MAP_NORESERVE
// mapping, which RLIMIT_DATA does not charge and which still reads (as zeros), so
// a racing lock-free reader never faults. False if the kernel refused.
bool decommit(void* p, size_t bytes);
// Makes a decommitted range writable (charged again); false when the limit refuses.
bool commit(void* p, size_t bytes);
// Moves the pages of [from, from + bytes) to [to, to + bytes) (both page aligned,
// both ours) without copying them (mremap, MREMAP_DONTUNMAP): `to`'s old pages
// are dropped and `from` stays mapped, reading zeros. False if the kernel refused
// (older than 5.13, or out of mappings): nothing moved then.
bool move_pages(void* from, void* to, size_t bytes);

// Whether RLIMIT_DATA is finite now.
bool data_limited();

// A coarse monotonic clock in milliseconds (wraps after 49 days; compare by difference).
uint32_t now_ms();

// Bytes obtained so far through grow() (sbrk and mmap together).
size_t grown_bytes();

}  // namespace mm::os
