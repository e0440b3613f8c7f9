// The pagemap: page number -> span, and the size-class byte of small spans.
//
// A 4-level radix tree over the 35-bit page numbers of a 48-bit address space
// (8 + 9 + 9 + 9 bits). Interior nodes are 4 KiB, leaves 4.5 KiB, all created lazily
// from metadata, so a small heap costs a few KiB. Missing subtrees point at shared
// read-only "empty" nodes instead of null, so a lookup is four loads and no branches
// and any address, even one we never handed out, reads as "no span".
// Reads are lock-free; writes happen under the page heap lock.
//
// The free fast path needs only the class byte, and four dependent loads cost it a
// quarter of its instructions. So the process's pagemap also keeps a flat class
// map: one byte per page of the whole 47-bit address space (16 GiB of address
// space), mapped read-only and MAP_NORESERVE so that it costs no memory and is not
// charged to RLIMIT_DATA (which counts writable private mappings only); the 4 KiB
// pieces that cover pages of ours are made writable when the radix leaf covering
// them is created (4 KiB of class map per 32 MiB of heap). Any address, ours or
// not, reads a valid byte. Where the reservation fails (RLIMIT_AS), lookups use
// the radix tree alone.
#pragma once
#include "../common/assert.h"
#include "../common/common.h"
#include "span.h"

namespace mm {

// The flat map keeps each class byte doubled: free() indexes its 16-byte bins by
// the byte with the addressing mode's scale of 8 (one lea, where a shift and an
// add would be two). Every class byte is below 128.
constexpr uint32_t kFlatClassScale = 2;

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
extern uint8_t g_pm_no_class_map;  // the one zero byte a pagemap without a class map reads
extern PmNode3 g_pm_empty_n3;
extern PmNode2 g_pm_empty_n2;

class Pagemap {
 public:
  constexpr Pagemap() {
    for (auto& r : root_) r = &g_pm_empty_n2;
  }

  MM_INLINE PmLeaf* leaf(uintptr_t page) const {
    PmNode2* n2 = __atomic_load_n(
        &root_[(page >> (kPmLeafBits + 2 * kPmMidBits)) & (kPmRootLen - 1)], __ATOMIC_ACQUIRE);
    PmNode3* n3 = __atomic_load_n(
        &n2->child[(page >> (kPmLeafBits + kPmMidBits)) & (kPmMidLen - 1)], __ATOMIC_ACQUIRE);
    return __atomic_load_n(&n3->child[(page >> kPmLeafBits) & (kPmMidLen - 1)], __ATOMIC_ACQUIRE);
  }
  // The class byte from the radix tree: authoritative, four loads.
  MM_INLINE uint8_t cls(uintptr_t page) const {
    return __atomic_load_n(&leaf(page)->cls[page & (kPmLeafLen - 1)], __ATOMIC_RELAXED);
  }

  // Reserves the flat class map (the process's pagemap only; idempotent).
  void init_class_map();
  MM_INLINE Span* span(uintptr_t page) const {
    return __atomic_load_n(&leaf(page)->span[page & (kPmLeafLen - 1)], __ATOMIC_ACQUIRE);
  }
  MM_INLINE Span* span_of(const void* p) const { return span(page_of(p)); }
  // The span and the class byte of p's page, from one walk of the tree. Only the
  // class byte is exact on every page (see PageHeap::map).
  MM_INLINE Span* span_of(const void* p, uint8_t* cls) const {
    uintptr_t page = page_of(p);
    PmLeaf* lf = leaf(page);
    *cls = __atomic_load_n(&lf->cls[page & (kPmLeafLen - 1)], __ATOMIC_RELAXED);
    return __atomic_load_n(&lf->span[page & (kPmLeafLen - 1)], __ATOMIC_ACQUIRE);
  }

  // Creates the nodes that cover [page, page + n). False when metadata runs out.
  bool ensure(uintptr_t page, size_t n);
  // Points every page of the span at it with the given class byte. Nodes must exist.
  void set_range(uintptr_t page, size_t n, Span* s, uint8_t cls) {
    set_range(page, n, s, cls, true);
  }
  // Points the first and last pages of [page, page + n) at s: all that a free span
  // or a large block needs (see PageHeap::map).
  void set_ends(uintptr_t page, size_t n, Span* s) {
    __atomic_store_n(&leaf(page)->span[page & (kPmLeafLen - 1)], s, __ATOMIC_RELEASE);
    uintptr_t last = page + n - 1;
    __atomic_store_n(&leaf(last)->span[last & (kPmLeafLen - 1)], s, __ATOMIC_RELEASE);
  }
  // Only the class bytes of [page, page + n).
  void set_class(uintptr_t page, size_t n, uint8_t cls) { set_range(page, n, nullptr, cls, false); }
  // Clears [page, page + n): those pages are no longer ours.
  void clear_range(uintptr_t page, size_t n) { set_range(page, n, nullptr, kClsNone); }
  // Whether this pagemap keeps a flat class map (the process's, unless the
  // reservation failed): grid pages need one.
  bool has_class_map() const { return class_map_mask_ != 0; }
  // Grid pages (medium_run.cc): only the flat map's bytes, under the heap's lock.
  void set_grid(uintptr_t page, size_t n, uint8_t bin) {
    MM_ASSERT(has_class_map() && is_grid_class(bin));
    for (size_t k = 0; k < n; ++k)
      __atomic_store_n(&class_map_[(page + k) & kClassMapMask],
                       static_cast<uint8_t>(bin * kFlatClassScale), __ATOMIC_RELAXED);
  }
  // The medium bin whose grid page this is, or 0.
  uint32_t grid_bin(uintptr_t page) const {
    uint32_t c =
        __atomic_load_n(&class_map_[page & class_map_mask_], __ATOMIC_RELAXED) / kFlatClassScale;
    return is_grid_class(c) ? c : 0;
  }
  // Pages [page, page + n) that are grid pages become plain medium pages again.
  void clear_grid(uintptr_t page, size_t n) {
    if (!class_map_mask_) return;
    for (size_t k = 0; k < n; ++k) {
      uint8_t* b = &class_map_[(page + k) & kClassMapMask];
      if (is_grid_class(__atomic_load_n(b, __ATOMIC_RELAXED) / kFlatClassScale))
        __atomic_store_n(b, static_cast<uint8_t>(kClsMedium * kFlatClassScale), __ATOMIC_RELAXED);
    }
  }
  // Bytes of nodes created so far.
  size_t node_bytes() const { return node_bytes_; }

 private:
  static constexpr uintptr_t kClassMapMask = (uintptr_t{1} << 34) - 1;  // 47-bit addresses
  bool commit_class_map(uintptr_t first_page, size_t n);
  void set_range(uintptr_t page, size_t n, Span* s, uint8_t cls, bool span_too);

  PmNode2* root_[kPmRootLen];
  size_t node_bytes_ = 0;
  uint8_t* class_map_ = &g_pm_no_class_map;
  uintptr_t class_map_mask_ = 0;
  bool class_map_tried_ = false;
};

extern MM_HIDDEN Pagemap g_pagemap;

// The flat class map of g_pagemap, as two plain globals so that the free fast path
// reaches each with one RIP-relative load.
extern MM_HIDDEN uint8_t* g_class_map;
extern MM_HIDDEN uintptr_t g_class_map_mask;

static_assert(kClsLarge * kFlatClassScale < 256, "doubled class bytes fit a byte");

// Two loads and no branch. Without a map (mask 0, one zero byte) every page reads
// kClsNone, and callers ask g_pagemap.cls().
MM_INLINE uint8_t class_scaled_fast(uintptr_t page) {
  return __atomic_load_n(&g_class_map[page & g_class_map_mask], __ATOMIC_RELAXED);
}
// The class byte from a flat map byte: a grid page's (medium_run.cc) reads as
// kClsMedium, except for free()'s bin (as_medium false), which is the page's.
MM_INLINE uint8_t class_of_scaled(unsigned scaled, bool as_medium = true) {
  auto c = static_cast<uint8_t>(scaled / kFlatClassScale);
  return as_medium && is_grid_class(c) ? kClsMedium : c;
}
MM_INLINE uint8_t class_of_fast(uintptr_t page) { return class_of_scaled(class_scaled_fast(page)); }

}  // namespace mm
