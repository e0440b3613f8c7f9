// The heap profiler's samples under threads: blocks sampled by one thread and
// freed by another take their samples with them, contents intact (also under
// ThreadSanitizer and AddressSanitizer).
#include <doctest/doctest.h>
#include <pthread.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "common/config.h"
#include "frontend/allocator.h"
#include "frontend/profile.h"
#include "os/stack.h"

using namespace mm;

namespace {
#if defined(MYMALLOC_SANITIZER_BUILD)
constexpr int kBlocks = 1000;
#else
constexpr int kBlocks = 10000;
#endif
constexpr int kThreads = 4;

size_t size_of(int t, int i) { return 1 + static_cast<size_t>((t * 7919 + i * 104729) % 5000); }
unsigned char tag(int t, int i) { return static_cast<unsigned char>(t * 31 + i); }
}  // namespace

TEST_CASE("profile: the unwinder finds this test's frames") {
  REQUIRE(stack_init());
  uintptr_t pcs[kMaxFrames];
  CHECK(stack_capture(pcs, kMaxFrames) >= 2);
}

TEST_CASE("profile: samples follow their blocks across threads") {
  g_config.prof_sample = 4096;  // new threads sample from their first allocation
  g_config.leaks = 1;           // samples without files
  ProfTotals before = prof_totals();
  std::vector<std::vector<unsigned char*>> blocks(kThreads, std::vector<unsigned char*>(kBlocks));
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, nullptr, kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kBlocks; ++i) {
        auto* p = static_cast<unsigned char*>(alloc(size_of(t, i)));
        REQUIRE(p != nullptr);
        memset(p, tag(t, i), size_of(t, i));
        blocks[t][i] = p;
      }
      pthread_barrier_wait(&barrier);
      int o = (t + 1) % kThreads;  // another thread's blocks, some sampled
      for (int i = 0; i < kBlocks; ++i) {
        size_t n = size_of(o, i);
        CHECK(blocks[o][i][0] == tag(o, i));
        CHECK(blocks[o][i][n - 1] == tag(o, i));
        dealloc(blocks[o][i]);
      }
    });
  for (auto& th : threads) th.join();
  ProfTotals after = prof_totals();
  CHECK(after.allocs - before.allocs > static_cast<uint64_t>(kBlocks / 10));  // sampled
  CHECK(after.live == before.live);  // and every sample gone with its block
  CHECK(after.live_bytes == before.live_bytes);
  g_config.leaks = 0;  // no report at this process's exit
  pthread_barrier_destroy(&barrier);
}

TEST_CASE("profile: a forked child frees the parent's sampled blocks, its samples go") {
  g_config.prof_sample = 4096;
  g_config.leaks = 1;
  ProfTotals before = prof_totals();
  std::vector<void*> blocks;
  std::thread t([&] {  // a fresh thread samples from its first allocation
    for (int i = 0; i < kBlocks; ++i) blocks.push_back(alloc(size_of(1, i)));
  });
  t.join();  // and exits: its samples stay with their blocks
  ProfTotals live = prof_totals();
  REQUIRE(live.live > before.live);
  pid_t pid = fork();
  if (pid == 0) {
    for (void* p : blocks) dealloc(p);
    ProfTotals child = prof_totals();
    _exit(child.live == before.live && child.live_bytes == before.live_bytes ? 0 : 1);
  }
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(prof_totals().live == live.live);  // the parent's blocks are still live here
  for (void* p : blocks) dealloc(p);
  CHECK(prof_totals().live == before.live);
  g_config.leaks = 0;
}
