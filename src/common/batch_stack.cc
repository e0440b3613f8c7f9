#include "batch_stack.h"

namespace mm {

namespace {
// The one deliberate race: a popper may read the link of a batch that another
// thread has just popped and handed out. The value is discarded when the CAS fails,
// so this read is kept out of ThreadSanitizer's view.
__attribute__((noinline, no_sanitize_thread)) void* read_link_racy(void** slot) {
  return *static_cast<void* volatile*>(slot);
}
}  // namespace

bool BatchStack::push(void* head) {
  MM_ASSERT(head != nullptr);
  if (__atomic_load_n(&count_, __ATOMIC_RELAXED) >= capacity_) return false;
  __atomic_fetch_add(&count_, 1, __ATOMIC_RELAXED);
  TaggedPtr old = tagged_load(&top_);
  for (;;) {
    link(head) = old.ptr;
    if (tagged_cas(&top_, old, TaggedPtr{head, old.tag + 1})) return true;
    old = tagged_load(&top_);
  }
}

void* BatchStack::pop() {
  TaggedPtr old = tagged_load(&top_);
  for (;;) {
    if (!old.ptr) return nullptr;
    void* next = read_link_racy(&link(old.ptr));
    if (tagged_cas(&top_, old, TaggedPtr{next, old.tag + 1})) {
      uint32_t before = __atomic_fetch_sub(&count_, 1, __ATOMIC_RELAXED);
      MM_ASSERT(before > 0);  // every pushed batch was counted first
      (void)before;
      return old.ptr;
    }
    old = tagged_load(&top_);
  }
}

}  // namespace mm
