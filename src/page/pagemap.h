// The pagemap: page number -> span, and the size-class byte of small spans.
//
// A 4-level radix tree over the 35-bit page numbers of a 48-bit address space
// (8 + 9 + 9 + 9 bits). Interior nodes are 4 KiB, leaves 4.5 KiB, all created lazily
// from metadata, so a small heap costs a few KiB. Missing subtrees point at shared
// read-only "empty" nodes instead of null, so a lookup is four loads and no branches
// and any address, even one we never handed out, reads as "no span".
// Reads are lock-free; writes happen under the page heap lock.
#pragma once
#include "../common/common.h"
#include "span.h"

namespace mm {

constexpr int kPmLeafBits = 9;
constexpr int kPmMidBits = 9;
constexpr int kPmRootBits = 35 - 2 * kPmMidBits - kPmLeafBits;  // 8
constexpr size_t kPmLeafLen = size_t{1} << kPmLeafBits;
constexpr size_t kPmMidLen = size_t{1} << kPmMidBits;
constexpr size_t kPmRootLen = size_t{1} << kPmRootBits;

struct PmLeaf {
  Span* span[kPmLeafLen];
  uint8_t cls[kPmLeafLen];
};
struct PmNode3 {
  PmLeaf* child[kPmMidLen];
};
struct PmNode2 {
  PmNode3* child[kPmMidLen];
};

template <class N, class C>
constexpr N pm_filled(C* c) {
  N n{};
  for (auto& x : n.child) x = c;
  return n;
}

extern PmLeaf g_pm_empty_leaf;
extern PmNode3 g_pm_empty_n3;
extern PmNode2 g_pm_empty_n2;

class Pagemap {
 public:
  constexpr Pagemap() {
    for (auto& r : root_) r = &g_pm_empty_n2;
  }

  MM_INLINE PmLeaf* leaf(uintptr_t page) const {
    PmNode2* n2 = __atomic_load_n(&root_[(page >> (kPmLeafBits + 2 * kPmMidBits)) & (kPmRootLen - 1)],
                                  __ATOMIC_ACQUIRE);
    PmNode3* n3 = __atomic_load_n(&n2->child[(page >> (kPmLeafBits + kPmMidBits)) & (kPmMidLen - 1)],
                                  __ATOMIC_ACQUIRE);
    return __atomic_load_n(&n3->child[(page >> kPmLeafBits) & (kPmMidLen - 1)], __ATOMIC_ACQUIRE);
  }
  MM_INLINE uint8_t cls(uintptr_t page) const {
    return __atomic_load_n(&leaf(page)->cls[page & (kPmLeafLen - 1)], __ATOMIC_RELAXED);
  }
  MM_INLINE Span* span(uintptr_t page) const {
    return __atomic_load_n(&leaf(page)->span[page & (kPmLeafLen - 1)], __ATOMIC_RELAXED);
  }
  MM_INLINE Span* span_of(const void* p) const { return span(page_of(p)); }

  // Creates the nodes that cover [page, page + n). False when metadata runs out.
  bool ensure(uintptr_t page, size_t n);
  // Points every page of the span at it with the given class byte. Nodes must exist.
  void set_range(uintptr_t page, size_t n, Span* s, uint8_t cls);
  // Clears [page, page + n): those pages are no longer ours.
  void clear_range(uintptr_t page, size_t n) { set_range(page, n, nullptr, kClsNone); }
  // Bytes of nodes created so far.
  size_t node_bytes() const { return node_bytes_; }

 private:
  PmNode2* root_[kPmRootLen];
  size_t node_bytes_ = 0;
};

extern Pagemap g_pagemap;

}  // namespace mm
