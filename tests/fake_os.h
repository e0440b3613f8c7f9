// A fake os layer for page-heap tests: pages from one arena, handed out in order
// (contiguous growth) unless a gap is requested, with an optional limit.
#pragma once
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "page/page_heap.h"

struct FakeOs {
  static constexpr size_t kArena = 64 << 20;
  char* arena = static_cast<char*>(aligned_alloc(mm::kPageSize, kArena));
  size_t used = 0;
  size_t limit = kArena;  // bytes the fake OS will give in total
  size_t gap_next = 0;    // bytes to skip before the next grow (non-contiguous)
  size_t grow_calls = 0;
  std::vector<std::pair<void*, size_t>> purged;
  std::vector<std::pair<void*, size_t>> populated;
  uint32_t clock_ms = 0;  // the page heap's clock, moved by tests

  ~FakeOs() { free(arena); }

  static void* grow(void* ctx, size_t bytes) {
    auto* f = static_cast<FakeOs*>(ctx);
    ++f->grow_calls;
    size_t start = f->used + f->gap_next;
    if (start + bytes > f->limit) return nullptr;
    f->gap_next = 0;
    f->used = start + bytes;
    return f->arena + start;
  }
  static void purge(void* ctx, void* p, size_t bytes) {
    static_cast<FakeOs*>(ctx)->purged.emplace_back(p, bytes);
  }
  static void populate(void* ctx, void* p, size_t bytes) {
    static_cast<FakeOs*>(ctx)->populated.emplace_back(p, bytes);
  }
  static uint32_t now_ms(void* ctx) { return static_cast<FakeOs*>(ctx)->clock_ms; }
  // Decommit is recorded as a purge; commit fails while refuse_commit is set.
  bool refuse_commit = false;
  static bool decommit(void* ctx, void* p, size_t bytes) {
    purge(ctx, p, bytes);
    return true;
  }
  static bool commit(void* ctx, void*, size_t) { return !static_cast<FakeOs*>(ctx)->refuse_commit; }
  // Under a data limit unless a test says otherwise: the heap grows by its step.
  bool data_limited = true;
  static bool limited(void* ctx) { return static_cast<FakeOs*>(ctx)->data_limited; }
  mm::PageSource source() {
    return mm::PageSource{grow, purge, populate, decommit, commit, now_ms, limited, this};
  }
  uintptr_t first_page() const { return mm::page_of(arena); }
};

// A page heap of its own over a fake os, growing one page at a time unless a test
// sets a step.
struct PageHeapFixture {
  FakeOs os;
  mm::Pagemap pm;
  mm::PageHeap ph{&pm, os.source()};
  PageHeapFixture() { ph.set_grow_step(1); }
};
