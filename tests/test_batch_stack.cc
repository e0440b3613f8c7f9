#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "common/batch_stack.h"

using namespace mm;

namespace {
// A batch of `n` 32-byte objects, chained through word 0 (word 2 links batches,
// word 3 holds their length: set_link_word(2), as the allocator's stacks).
struct alignas(16) Obj32 {
  void* w[4];
};
void* make_batch(Obj32* objs, int n) {
  for (int i = 0; i < n; ++i) next_of(&objs[i]) = i + 1 < n ? &objs[i + 1] : nullptr;
  return &objs[0];
}
}  // namespace

TEST_CASE("batch stack: LIFO of chains with their lengths, bounded by objects") {
  BatchStack tc;
  tc.set_link_word(2);
  tc.set_capacity(6);
  static Obj32 buf[9];
  uint32_t n = 0;
  CHECK(tc.pop(&n) == nullptr);
  CHECK(tc.push(make_batch(buf, 2), 2));
  CHECK(tc.push(make_batch(buf + 2, 4), 4));
  CHECK_FALSE(tc.push(make_batch(buf + 6, 1), 1));  // 7 objects would exceed 6
  CHECK(tc.batches() == 2);
  CHECK(tc.objects() == 6);
  void* x = tc.pop(&n);
  CHECK(x == &buf[2]);
  CHECK(n == 4);
  CHECK(next_of(x) == &buf[3]);
  CHECK(next_of(&buf[5]) == nullptr);
  CHECK(tc.pop(&n) == &buf[0]);
  CHECK(n == 2);
  CHECK(tc.objects() == 0);
  CHECK(tc.pop(&n) == nullptr);
  // An empty stack takes any chain, however long: one overflow's chain may be
  // a whole bin.
  CHECK(tc.push(make_batch(buf, 9), 9));
  CHECK_FALSE(tc.push(make_batch(buf, 1), 1));
  CHECK(tc.pop(&n) == &buf[0]);
  CHECK(n == 9);
}

TEST_CASE("batch stack, locked form: lengths kept beside the heads, bounded by slots") {
  BatchStack tc;
  static void* slots[2];
  static uint32_t lens[2];
  tc.use_slots(slots, lens, 2);
  tc.set_capacity(100);
  alignas(16) static char buf[3][16];
  uint32_t n = 0;
  CHECK(tc.push(buf[0], 5));
  CHECK(tc.push(buf[1], 7));
  CHECK_FALSE(tc.push(buf[2], 1));  // no slot left
  CHECK(tc.objects() == 12);
  CHECK(tc.pop(&n) == buf[1]);
  CHECK(n == 7);
  CHECK(tc.pop(&n) == buf[0]);
  CHECK(n == 5);
  CHECK(tc.pop(&n) == nullptr);
}

namespace {
// Each thread pops a batch, checks and rewrites the contents it owns, pushes it back.
// With a plain pointer CAS, ABA would hand one batch to two threads and the
// ownership stamp below would catch it. The locked form (slots) must also leave
// every object's second word (the double-free token) as it was. Every batch's
// length must come back with it.
void concurrent_push_pop(void** slots) {
  constexpr int kBatches = 64, kObjs = 4, kThreads = 4, kIters = 20000;
  constexpr uintptr_t kToken = 0x5eed;
  BatchStack tc;
  tc.set_capacity(kBatches * kObjs);
  static uint32_t lens[kBatches];
  if (slots)
    tc.use_slots(slots, lens, kBatches);
  else
    tc.set_link_word(2);
  struct alignas(16) Obj {
    void* link[4];
    std::atomic<int> owner;
  };
  static Obj objs[kBatches][kObjs];
  for (int b = 0; b < kBatches; ++b) {
    void* ptrs[kObjs];
    for (int i = 0; i < kObjs; ++i) {
      objs[b][i].owner = -1;
      objs[b][i].link[1] = reinterpret_cast<void*>(kToken);
      ptrs[i] = &objs[b][i];
    }
    for (int i = 0; i < kObjs; ++i) next_of(ptrs[i]) = i + 1 < kObjs ? ptrs[i + 1] : nullptr;
    REQUIRE(tc.push(ptrs[0], kObjs));
  }
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int it = 0; it < kIters; ++it) {
        uint32_t len = 0;
        void* h = tc.pop(&len);
        if (!h) continue;
        int n = 0;
        for (void* p = h; p; p = next_of(p), ++n) {
          auto* o = static_cast<Obj*>(p);
          int expect = -1;
          if (!o->owner.compare_exchange_strong(expect, t)) errors++;
        }
        if (n != kObjs || len != kObjs) errors++;
        for (void* p = h; p; p = next_of(p)) {
          static_cast<Obj*>(p)->owner = -1;
          if (slots && static_cast<Obj*>(p)->link[1] != reinterpret_cast<void*>(kToken)) errors++;
        }
        if (!tc.push(h, kObjs)) errors++;
      }
    });
  }
  for (auto& th : ts) th.join();
  CHECK(errors == 0);
  std::set<void*> seen;
  uint32_t len = 0;
  while (void* h = tc.pop(&len)) seen.insert(h);
  CHECK(seen.size() == kBatches);
}
}  // namespace

TEST_CASE("batch stack: concurrent push/pop never loses or duplicates a batch (ABA)") {
  concurrent_push_pop(nullptr);
}

TEST_CASE("batch stack, locked form (16-byte objects): the same, every token kept") {
  static void* slots[64];
  concurrent_push_pop(slots);
}
