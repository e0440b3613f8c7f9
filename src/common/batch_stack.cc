#include "batch_stack.h"

namespace mm {

namespace {
// The one deliberate race: a popper may read the link of a batch that another
// thread has just popped and handed out. The value is discarded when the CAS fails,
// so this read is kept out of ThreadSanitizer's view.
__attribute__((noinline, no_sanitize_thread)) void* read_link_racy(void** slot) {
  return *static_cast<void* volatile*>(slot);
}
// Batch links are encoded as object links are (next_of): a use-after-free write
// into a batch's head cannot make a pop install an address of its choosing. A
// link decoded from a batch taken meanwhile by another thread is garbage and is
// discarded with the failed CAS, as before.
void* encode(void* v) { return reinterpret_cast<void*>(encode_link(v)); }
void* decode(void* e) { return decode_link(reinterpret_cast<uintptr_t>(e)); }
}  // namespace

uint64_t g_transfer_retries = 0;

bool BatchStack::push(void* head, uint32_t n) {
  MM_ASSERT(head != nullptr && n > 0);
  if (slots_) {
    LockGuard g(lock_);
    uint32_t k = __atomic_load_n(&count_, __ATOMIC_RELAXED);
    if (k == nslots_ || !has_room(n)) return false;
    slots_[k] = head;
    lens_[k] = n;
    __atomic_store_n(&count_, k + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&objects_, objects_ + n, __ATOMIC_RELAXED);
    return true;
  }
  if (!has_room(n)) return false;
  __atomic_fetch_add(&count_, 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&objects_, n, __ATOMIC_RELAXED);
  length(head) = n;
  TaggedPtr old = tagged_load(&top_);
  for (;;) {
    link(head) = encode(old.ptr);
    if (tagged_cas(&top_, old, TaggedPtr{head, old.tag + 1})) return true;
    __atomic_fetch_add(&g_transfer_retries, 1, __ATOMIC_RELAXED);
    old = tagged_load(&top_);
  }
}

void* BatchStack::peek() {
  if (slots_) {
    LockGuard g(lock_);
    uint32_t n = __atomic_load_n(&count_, __ATOMIC_RELAXED);
    return n ? slots_[n - 1] : nullptr;
  }
  return tagged_load(&top_).ptr;
}

void* BatchStack::pop(uint32_t* n) {
  if (slots_) {
    LockGuard g(lock_);
    uint32_t k = __atomic_load_n(&count_, __ATOMIC_RELAXED);
    if (k == 0) return nullptr;
    __atomic_store_n(&count_, k - 1, __ATOMIC_RELAXED);
    *n = lens_[k - 1];
    __atomic_store_n(&objects_, objects_ - *n, __ATOMIC_RELAXED);
    return slots_[k - 1];
  }
  TaggedPtr old = tagged_load(&top_);
  for (;;) {
    if (!old.ptr) return nullptr;
    void** slot = &link(old.ptr);
    void* next = decode(read_link_racy(slot));
    if (tagged_cas(&top_, old, TaggedPtr{next, old.tag + 1})) {
      // The CAS proves the link was read from the top batch: a misaligned one was
      // forged (objects and chunks are 16-byte aligned).
      if (MM_UNLIKELY(reinterpret_cast<uintptr_t>(next) & 15))
        fatal("malloc", "corrupted free list at", old.ptr);
      uint32_t before = __atomic_fetch_sub(&count_, 1, __ATOMIC_RELAXED);
      MM_ASSERT(before > 0);  // every pushed batch was counted first
      (void)before;
      *n = static_cast<uint32_t>(length(old.ptr));
      __atomic_fetch_sub(&objects_, *n, __ATOMIC_RELAXED);
      return old.ptr;
    }
    __atomic_fetch_add(&g_transfer_retries, 1, __ATOMIC_RELAXED);
    old = tagged_load(&top_);
  }
}

}  // namespace mm
