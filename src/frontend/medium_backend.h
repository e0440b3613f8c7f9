// The medium and large tiers' back end: a thread's medium heap, medium transfer
// stacks (whole batches of other threads' chunks between thread caches), frees to
// the owning heap or onto its remote-free stack, and large blocks (whole spans).
#pragma once
#include "../common/common.h"
#include "../common/lock.h"
#include "../medium/chunk.h"
#include "../page/span.h"

namespace mm {

class MediumHeap;
struct ThreadCache;

void medium_backend_init();

// tc's medium heap, attached on first use; nullptr for a thread without a cache.
MediumHeap* thread_heap(ThreadCache* tc);

// heap may be nullptr (a thread whose cache is gone): a heap is borrowed for the call.
void* medium_alloc(MediumHeap* heap, size_t csize);
int medium_alloc_batch(MediumHeap* heap, size_t csize, void** head, int n);
// A checked chunk back to its heap, past the thread cache (tc's heap's lock, an
// orphan's, or the owner's remote stack), counted as returned; tc may be nullptr.
void medium_free(ThreadCache* tc, Chunk* c);
// Frees a chain of payloads linked through their first word.
void medium_free_chain(MediumHeap* mine, void* head);
// Validated chunk of a medium pointer, or a fatal error naming func.
Chunk* medium_chunk(void* p, Span* s, const char* func);

// Chains of whole batches of cached-size medium chunks (bins 17..64), n chunks,
// handed between threads without their heaps. push is false when full; pop gives
// the chain's length in *n (n may be null).
bool medium_transfer_push(uint32_t bin, void* head, int n);
void* medium_transfer_pop(uint32_t bin, int* n);
// Sends batches home to their heaps: all of them, or half of each idle stack's.
void medium_return_transfer(bool idle_half);
size_t medium_transfer_bytes();

// Returns every heap's wholly free regions to the page heap (memory pressure).
void medium_trim_all();

// Large tier: whole spans.
// Pages a large block of n bytes gets: n rounded up to its large class.
size_t large_pages(size_t n);
void* large_alloc(size_t n, size_t align);
// Exactly the pages n needs, no size class (the heap profiler's sampled blocks).
Span* large_alloc_exact(size_t n);
void large_free(Span* s);
// Grows or shrinks a large block's span in place; false if it cannot grow there.
bool large_resize(Span* s, size_t n);
size_t large_bytes_in_use();
// The count itself, for the page heap (PageHeap::set_large_bytes_source).
const size_t* large_bytes_counter();

// The registry's and the heaps' locks, for the fork handlers' table (process.cc),
// and the heaps' owner counts after fork.
void heap_registry_locks(void (*op)(Lock&));
void medium_heap_locks(void (*op)(Lock&));
void medium_backend_fork_child();

}  // namespace mm
