#include <doctest/doctest.h>

#include <atomic>
#include <set>
#include <thread>
#include <vector>

#include "common/batch_stack.h"

using namespace mm;

namespace {
// A batch of `n` 16-byte objects from a buffer, chained through word 0.
void* make_batch(void** objs, int n) {
  for (int i = 0; i < n; ++i) next_of(objs[i]) = i + 1 < n ? objs[i + 1] : nullptr;
  return objs[0];
}
}  // namespace

TEST_CASE("batch stack: LIFO of whole batches, bounded") {
  BatchStack tc;
  tc.set_capacity(2);
  alignas(16) static char buf[6][16];
  void* a[3] = {buf[0], buf[1], buf[2]};
  void* b[3] = {buf[3], buf[4], buf[5]};
  CHECK(tc.pop() == nullptr);
  CHECK(tc.push(make_batch(a, 3)));
  CHECK(tc.push(make_batch(b, 3)));
  CHECK_FALSE(tc.push(buf[0]));  // full
  CHECK(tc.batches() == 2);
  void* x = tc.pop();
  CHECK(x == buf[3]);
  CHECK(next_of(x) == buf[4]);
  CHECK(next_of(buf[4]) == buf[5]);
  CHECK(tc.pop() == buf[0]);
  CHECK(tc.pop() == nullptr);
}

namespace {
// Each thread pops a batch, checks and rewrites the contents it owns, pushes it back.
// With a plain pointer CAS, ABA would hand one batch to two threads and the
// ownership stamp below would catch it. The locked form (slots) must also leave
// every object's second word (the double-free token) as it was.
void concurrent_push_pop(void** slots) {
  constexpr int kBatches = 64, kObjs = 4, kThreads = 4, kIters = 20000;
  constexpr uintptr_t kToken = 0x5eed;
  BatchStack tc;
  tc.set_capacity(kBatches);
  if (slots) tc.use_slots(slots);
  struct alignas(16) Obj {
    void* link[2];
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
    REQUIRE(tc.push(make_batch(ptrs, kObjs)));
  }
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int it = 0; it < kIters; ++it) {
        void* h = tc.pop();
        if (!h) continue;
        int n = 0;
        for (void* p = h; p; p = next_of(p), ++n) {
          auto* o = static_cast<Obj*>(p);
          int expect = -1;
          if (!o->owner.compare_exchange_strong(expect, t)) errors++;
        }
        if (n != kObjs) errors++;
        for (void* p = h; p; p = next_of(p)) {
          static_cast<Obj*>(p)->owner = -1;
          if (slots && static_cast<Obj*>(p)->link[1] != reinterpret_cast<void*>(kToken)) errors++;
        }
        if (!tc.push(h)) errors++;
      }
    });
  }
  for (auto& th : ts) th.join();
  CHECK(errors == 0);
  std::set<void*> seen;
  while (void* h = tc.pop()) seen.insert(h);
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
