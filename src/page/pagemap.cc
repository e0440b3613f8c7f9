#include "pagemap.h"

#include "../meta/meta.h"

namespace mm {

// The shared empty nodes are constant-initialised, so even a free() before the first
// malloc() finds "no span" without touching anything.
constinit PmLeaf g_pm_empty_leaf{};
constinit PmNode3 g_pm_empty_n3 = pm_filled<PmNode3>(&g_pm_empty_leaf);
constinit PmNode2 g_pm_empty_n2 = pm_filled<PmNode2>(&g_pm_empty_n3);
constinit Pagemap g_pagemap;

bool Pagemap::ensure(uintptr_t page, size_t n) {
  for (uintptr_t p = page; p < page + n;) {
    PmNode2*& n2 = root_[(p >> (kPmLeafBits + 2 * kPmMidBits)) & (kPmRootLen - 1)];
    if (n2 == &g_pm_empty_n2) {
      auto* fresh = static_cast<PmNode2*>(meta_alloc(sizeof(PmNode2)));
      if (!fresh) return false;
      for (auto& c : fresh->child) c = &g_pm_empty_n3;
      node_bytes_ += sizeof(PmNode2);
      __atomic_store_n(&n2, fresh, __ATOMIC_RELEASE);
    }
    PmNode3*& n3 = n2->child[(p >> (kPmLeafBits + kPmMidBits)) & (kPmMidLen - 1)];
    if (n3 == &g_pm_empty_n3) {
      auto* fresh = static_cast<PmNode3*>(meta_alloc(sizeof(PmNode3)));
      if (!fresh) return false;
      for (auto& c : fresh->child) c = &g_pm_empty_leaf;
      node_bytes_ += sizeof(PmNode3);
      __atomic_store_n(&n3, fresh, __ATOMIC_RELEASE);
    }
    PmLeaf*& lf = n3->child[(p >> kPmLeafBits) & (kPmMidLen - 1)];
    if (lf == &g_pm_empty_leaf) {
      auto* fresh = static_cast<PmLeaf*>(meta_alloc(sizeof(PmLeaf)));  // zeroed
      if (!fresh) return false;
      node_bytes_ += sizeof(PmLeaf);
      __atomic_store_n(&lf, fresh, __ATOMIC_RELEASE);
    }
    p = (p | (kPmLeafLen - 1)) + 1;  // next leaf
  }
  return true;
}

void Pagemap::set_range(uintptr_t page, size_t n, Span* s, uint8_t cls) {
  for (uintptr_t p = page; p < page + n; ++p) {
    PmLeaf* lf = leaf(p);
    __atomic_store_n(&lf->span[p & (kPmLeafLen - 1)], s, __ATOMIC_RELAXED);
    __atomic_store_n(&lf->cls[p & (kPmLeafLen - 1)], cls, __ATOMIC_RELAXED);
  }
}

}  // namespace mm
