#include "pagemap.h"

#include <sys/mman.h>

#include "../common/assert.h"
#include "../meta/meta.h"

namespace mm {

// The shared empty nodes are constant-initialised, so even a free() before the first
// malloc() finds "no span" without touching anything.
constinit PmLeaf g_pm_empty_leaf{};
constinit PmNode3 g_pm_empty_n3 = pm_filled<PmNode3>(&g_pm_empty_leaf);
constinit PmNode2 g_pm_empty_n2 = pm_filled<PmNode2>(&g_pm_empty_n3);
constinit uint8_t g_pm_no_class_map = 0;
constinit Pagemap g_pagemap;
uint8_t* g_class_map = &g_pm_no_class_map;
uintptr_t g_class_map_mask = 0;

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
      if (!commit_class_map(p & ~(kPmLeafLen - 1), kPmLeafLen)) return false;
      auto* fresh = static_cast<PmLeaf*>(meta_alloc(sizeof(PmLeaf)));  // zeroed
      if (!fresh) return false;
      node_bytes_ += sizeof(PmLeaf);
      __atomic_store_n(&lf, fresh, __ATOMIC_RELEASE);
    }
    p = (p | (kPmLeafLen - 1)) + 1;  // next leaf
  }
  return true;
}

namespace {
// Class bytes are read without a lock (relaxed loads); a byte store cannot tear,
// so release builds write runs of them with memset. Sanitizer builds store them
// one by one as atomics, which ThreadSanitizer can see.
void store_bytes(uint8_t* dst, uint8_t v, size_t n) {
#if defined(MYMALLOC_SANITIZER_BUILD)
  for (size_t k = 0; k < n; ++k) __atomic_store_n(&dst[k], v, __ATOMIC_RELAXED);
#else
  __builtin_memset(dst, v, n);
#endif
}
// Span pointers likewise: aligned 8-byte stores do not tear, and lock-free readers
// need only see either value (the lock orders the rest). A plain loop vectorises:
// large spans are set on every allocation.
void store_spans(Span** dst, Span* v, size_t n) {
#if defined(MYMALLOC_SANITIZER_BUILD)
  for (size_t k = 0; k < n; ++k) __atomic_store_n(&dst[k], v, __ATOMIC_RELEASE);
#else
  __atomic_thread_fence(__ATOMIC_RELEASE);
  for (size_t k = 0; k < n; ++k) dst[k] = v;
#endif
}
}  // namespace

void Pagemap::set_range(uintptr_t page, size_t n, Span* s, uint8_t cls, bool span_too) {
  // A leaf at a time: one walk of the tree per 512 pages, then plain runs of stores
  // (large spans are set on every allocation and free).
  for (uintptr_t p = page, end = page + n; p < end;) {
    PmLeaf* lf = leaf(p);
    MM_ASSERT(lf != &g_pm_empty_leaf);  // ensure() created the nodes first
    size_t i = p & (kPmLeafLen - 1);
    size_t run = kPmLeafLen - i < end - p ? kPmLeafLen - i : end - p;
    if (span_too) store_spans(&lf->span[i], s, run);
    store_bytes(&lf->cls[i], cls, run);
    if (class_map_mask_)
      store_bytes(&class_map_[p & kClassMapMask], static_cast<uint8_t>(cls * kFlatClassScale), run);
    p += run;
  }
}

void Pagemap::init_class_map() {
  if (class_map_tried_) return;
  class_map_tried_ = true;
  if (node_bytes_ != 0) return;  // pages registered already would be missing from it
  size_t bytes = size_t{kClassMapMask} + 1;
  void* m = mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return;
  madvise(m, bytes, MADV_DONTDUMP);  // nothing worth a core file
  class_map_ = static_cast<uint8_t*>(m);
  class_map_mask_ = kClassMapMask;  // set once, before any page is registered
  if (this == &g_pagemap) {
    g_class_map = class_map_;
    g_class_map_mask = class_map_mask_;
  }
}

bool Pagemap::commit_class_map(uintptr_t first_page, size_t n) {
  if (!class_map_mask_) return true;
  uintptr_t lo =
      reinterpret_cast<uintptr_t>(class_map_ + (first_page & kClassMapMask)) & ~uintptr_t{4095};
  uintptr_t hi =
      align_up(reinterpret_cast<uintptr_t>(class_map_ + (first_page & kClassMapMask)) + n, 4096);
  // Writable from now on; the bytes read zero (no class) until set_range writes them.
  ErrnoKeeper keep;
  return mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_READ | PROT_WRITE) == 0;
}

}  // namespace mm
