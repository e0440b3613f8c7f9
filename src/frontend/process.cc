#include "process.h"

#include <pthread.h>

#include "../common/config.h"
#include "../common/lock.h"
#include "../meta/meta.h"
#include "../page/page_heap.h"
#include "checked.h"
#include "medium_backend.h"
#include "profile.h"
#include "small_backend.h"
#include "thread_cache.h"

namespace mm {

bool g_inited = false;

namespace {
Lock g_init_lock{LockRank::kInit};
}  // namespace

void init_slow() {
  LockGuard g(g_init_lock);
  if (g_inited) return;
  config_load();
  g_pagemap.init_class_map();
  secret_init();
  page_heap().set_purge_threshold(g_config.purge_threshold >> kPageShift);
  page_heap().set_decay_ms(static_cast<uint32_t>(g_config.decay_ms));
  page_heap().set_large_bytes_source(large_bytes_counter());
  small_backend_init();
  medium_backend_init();
  thread_cache_init_key();
  __atomic_store_n(&g_inited, true, __ATOMIC_RELEASE);
}

// ---- fork -------------------------------------------------------------------

namespace {
// Every lock of the allocator, in rank order (LockRank): each entry applies op to
// the locks of one rank. prepare takes them first to last; the parent releases
// and the child resets them last to first. The lists that the entries walk (the
// medium heaps) are guarded by locks of earlier entries.
using LockOp = void (*)(Lock&);
void page_heap_locks(LockOp op) { op(page_heap().lock()); }
void profile_locks(LockOp op) { op(prof_lock()); }
void meta_locks(LockOp op) { op(meta_lock()); }
void quarantine_locks(LockOp op) { op(quarantine_lock()); }
constexpr void (*kLockTable[])(LockOp) = {
    quarantine_locks,     // kQuarantine
    thread_cache_locks,   // kThreadCaches, kParked
    heap_registry_locks,  // kHeapRegistry
    medium_heap_locks,    // kMediumHeap, every heap
    central_locks,        // kCentral, every class; then kTransfer
    page_heap_locks,      // kPageHeap
    profile_locks,        // kProfile
    meta_locks,           // kMeta
};
constexpr int kLockTableLen = sizeof kLockTable / sizeof kLockTable[0];

void fork_prepare() {
  MM_DEBUG_ONLY(witness_allow_many(true));
  for (int i = 0; i < kLockTableLen; ++i) kLockTable[i]([](Lock& l) { l.lock(); });
  MM_DEBUG_ONLY(witness_allow_many(false));
}

void fork_parent() {
  for (int i = kLockTableLen - 1; i >= 0; --i) kLockTable[i]([](Lock& l) { l.unlock(); });
}

void fork_child() {
  for (int i = kLockTableLen - 1; i >= 0; --i) kLockTable[i]([](Lock& l) { l.reset_in_child(); });
  medium_backend_fork_child();
  thread_cache_fork_child();
}

__attribute__((constructor)) void register_fork_handlers() {
  ensure_init();
  pthread_atfork(fork_prepare, fork_parent, fork_child);
  prof_start();  // after libc is up: it may load the unwinder
}
}  // namespace

}  // namespace mm
