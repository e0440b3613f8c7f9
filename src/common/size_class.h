// Size classes and thread-cache bins.
//
// Requests up to kCachedMax bytes map to a bin by (n + 15) >> 4, one add and one
// shift. Bins 1..16 are the slab size classes (16..256 B, every 16 B); bins 17..64
// hold medium chunks of 272..1024 B in the thread cache. Every size is a multiple of
// 16, so every object is 16-byte aligned: slabs start on a page boundary.
#pragma once
#include "common.h"
#include "tuning.h"

namespace mm {

constexpr uint32_t kNumSmallClasses = kSmallMax / 16;  // 16
constexpr uint32_t kNumBins = kCachedMax / 16 + 1;     // 65, bin 0 unused

MM_INLINE constexpr uint32_t size_bin(size_t n) { return static_cast<uint32_t>((n + 15) >> 4); }
MM_INLINE constexpr size_t bin_size(uint32_t bin) { return size_t{bin} << 4; }
MM_INLINE constexpr bool is_small_class(uint32_t c) { return c - 1 < kNumSmallClasses; }

// The class byte the pagemap keeps for every page (and the flat class map for the
// free fast path): 1..16 are the slab classes; these mark the other span kinds.
// The medium and large bytes index the thread-cache bins after the last real one:
// the medium stash, and a bin that is always full (see dealloc_fast).
constexpr uint8_t kClsNone = 0;
constexpr uint8_t kClsMedium = kNumBins;
constexpr uint8_t kClsLarge = kNumBins + 1;

struct ClassInfo {
  uint32_t size;     // object bytes
  uint32_t pages;    // span length of a slab
  uint32_t objects;  // objects per slab
  uint32_t batch;    // objects moved between thread cache and back end at once
};

// At least 64 objects per slab; under 1% of a slab is tail waste for any class
// (checked in tests/test_size_class.cc). Small batches: kSmallBatch (tuning.h).
constexpr ClassInfo make_class_info(uint32_t bin) {
  if (bin == 0) return ClassInfo{0, 0, 0, 0};
  uint32_t size = bin * 16;
  if (bin > kNumSmallClasses) {
    // Medium bins: batches from the medium heap, smaller for bigger chunks so
    // that a thread cache holds few bytes that merging could use.
    uint32_t b = 8192 / size;
    return ClassInfo{size, 0, 0, b < 2 ? 2 : (b > 16 ? 16 : b)};
  }
  uint32_t pages = (64 * size + kPageSize - 1) / kPageSize;
  return ClassInfo{size, pages, static_cast<uint32_t>(pages * kPageSize / size), kSmallBatch};
}

struct ClassTable {
  ClassInfo info[kNumBins];
  constexpr ClassTable() : info() {
    for (uint32_t i = 0; i < kNumBins; ++i) info[i] = make_class_info(i);
  }
};
inline constexpr ClassTable kClasses{};

MM_INLINE constexpr const ClassInfo& class_info(uint32_t bin) { return kClasses.info[bin]; }
// Bytes in one batch of a bin: the unit transfer caches are sized in.
MM_INLINE constexpr size_t batch_bytes(uint32_t bin) {
  return size_t{class_info(bin).batch} * class_info(bin).size;
}

}  // namespace mm
