// Glue between the thread cache and the back ends: the small tier (transfer cache
// over central free lists), the medium heaps and large spans; initialisation, the
// memory-pressure path and the fork handlers.
#pragma once
#include "../common/common.h"
#include "../medium/chunk.h"
#include "../page/span.h"

namespace mm {

class MediumHeap;
struct ThreadCache;

extern bool g_inited;
void init_slow();
MM_INLINE void ensure_init() {
  if (MM_UNLIKELY(!__atomic_load_n(&g_inited, __ATOMIC_ACQUIRE))) init_slow();
}

// Small tier. fetch returns up to n objects chained through their first word.
int small_fetch(uint32_t cls, void** head, int n);
void small_release(uint32_t cls, void* head, int n);

// Medium tier. heap may be nullptr (a thread whose cache is gone).
void* medium_alloc(MediumHeap* heap, size_t csize);
int medium_alloc_batch(MediumHeap* heap, size_t csize, void** head, int n);
void medium_free(MediumHeap* mine, Chunk* c);
// Frees a chain of payloads linked through their first word.
void medium_free_chain(MediumHeap* mine, void* head);
// Whole batches of cached-size medium chunks (bins 17..64) handed between threads
// without their heaps: see backend.cc. push is false when full.
bool medium_transfer_push(uint32_t bin, void* head);
void* medium_transfer_pop(uint32_t bin);
// Validated chunk of a medium pointer, or a fatal error naming func.
Chunk* medium_chunk(void* p, Span* s, const char* func);

// Large tier: whole spans.
void* large_alloc(size_t n, size_t align);
void large_free(Span* s);
// Grows or shrinks a large block's span in place; false if it cannot grow there.
bool large_resize(Span* s, size_t pages);

// Memory pressure: flush this thread's cache, drain transfer caches and remote
// frees, return empty slabs and regions; other threads flush at their next slow path.
void relieve_pressure();
// Soft pressure, after the heap grew from the OS: this thread's cache gives back
// half of each idle bin, each idle transfer cache half of its batches, and parked
// caches go down.
void scavenge_caches();
void release_free_memory();

// Thread cache (thread_cache.cc).
ThreadCache* thread_cache_setup();  // the current thread's cache, active, or nullptr if dead
// tc's medium heap, attached on first use; nullptr for a thread without a cache.
MediumHeap* thread_heap(ThreadCache* tc);
void thread_cache_flush(ThreadCache* tc);
void thread_cache_scavenge(ThreadCache* tc);  // half of every idle bin goes down
void thread_cache_flush_parked();             // the caches of exited threads, all down
void thread_cache_init_key();
void* cache_refill(ThreadCache* tc, uint32_t bin);            // pops one object, or nullptr
void cache_overflow(ThreadCache* tc, uint32_t bin, void* p);  // bin is full: make room
size_t thread_cache_bytes();                                  // bytes cached in all threads
extern uint32_t g_flush_epoch;

// Fork handlers for everything in thread_cache.cc.
void thread_cache_fork_prepare();
void thread_cache_fork_parent();
void thread_cache_fork_child();

}  // namespace mm
