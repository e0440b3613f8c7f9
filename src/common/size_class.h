// Size classes and thread-cache bins.
//
// Requests up to kCachedMax bytes map to a bin by (n + 15) >> 4, one add and one
// shift. Bins 1..16 are the slab size classes (16..256 B, every 16 B); bins 17..64
// hold medium chunks of 272..1024 B in the thread cache, bins 65..112 bigger ones
// (below). Every size is a multiple of 16, so every object is 16-byte aligned.
#pragma once
#include "common.h"
#include "tuning.h"

namespace mm {

constexpr uint32_t kNumSmallClasses = kSmallMax / 16;  // 16
// Bins 65..112: medium chunks of 1 KiB to kBigCachedMax (tuning.h) in classes
// eight per doubling (1152, 1280, ..., 2048, 2304, ...), 12.5% apart, as
// tcmalloc's; requests there are rounded up to their class, so that a freed
// chunk fits the next request of its class. Reached from alloc_slow only.
constexpr uint32_t kFirstBigBin = kCachedMax / 16 + 1;  // 65
constexpr uint32_t kBigPerDoubling = 8;
constexpr uint32_t kNumBigClasses =
    (__builtin_ctzll(kBigCachedMax) - __builtin_ctzll(kCachedMax)) * kBigPerDoubling;  // 48
constexpr uint32_t kNumBins = kFirstBigBin + kNumBigClasses;  // 113, bin 0 unused

MM_INLINE constexpr uint32_t size_bin(size_t n) { return static_cast<uint32_t>((n + 15) >> 4); }
MM_INLINE constexpr size_t big_class_size(uint32_t i) {  // i: 0..kNumBigClasses-1
  size_t base = kCachedMax << (i / kBigPerDoubling);
  return base + (i % kBigPerDoubling + 1) * (base / kBigPerDoubling);
}
MM_INLINE constexpr size_t bin_size(uint32_t bin) {
  return bin < kFirstBigBin ? size_t{bin} << 4 : big_class_size(bin - kFirstBigBin);
}
MM_INLINE constexpr bool is_small_class(uint32_t c) { return c - 1 < kNumSmallClasses; }
// The bin of a request of 1..kBigCachedMax bytes: the smallest class that holds it.
MM_INLINE constexpr uint32_t cached_bin(size_t n) {
  if (n <= kCachedMax) return size_bin(n);
  uint32_t lg = 63 - static_cast<uint32_t>(__builtin_clzll(n - 1));  // 2^lg < n <= 2^(lg+1)
  uint32_t shift = lg - 3;                                           // class step 2^lg / 8
  auto j = static_cast<uint32_t>((n - (size_t{1} << lg) + (size_t{1} << shift) - 1) >> shift);
  return kFirstBigBin + (lg - 10) * kBigPerDoubling + j - 1;
}
// cached_bin of a request over kCachedMax, as a table by (n - 1) / 128: class
// bounds above 1 KiB are multiples of 128 (the finest step, 1..2 KiB's). One load
// where the formula above takes a bit scan and five shifts (alloc_slow).
constexpr size_t kBigBinStep = kCachedMax / kBigPerDoubling;
struct BigBinTable {
  uint8_t bin[kBigCachedMax / kBigBinStep];
  constexpr BigBinTable() : bin() {
    for (size_t i = kCachedMax / kBigBinStep; i < sizeof bin; ++i)
      bin[i] = static_cast<uint8_t>(cached_bin(i * kBigBinStep + 1));
  }
};
inline constexpr BigBinTable kBigBinTable{};
MM_INLINE uint32_t big_cached_bin(size_t n) {  // kCachedMax < n <= kBigCachedMax
  return kBigBinTable.bin[(n - 1) / kBigBinStep];
}
// The bin a free medium chunk of this payload (a multiple of 16 above kSmallMax)
// can be cached in: the largest class it holds, and so less than a class step
// bigger than that class. 0: too big for any.
MM_INLINE constexpr uint32_t cached_bin_floor(size_t payload) {
  if (payload <= kCachedMax) return size_bin(payload);
  if (payload >= kBigCachedMax + kBigCachedMax / kBigPerDoubling) return 0;
  uint32_t lg = 63 - static_cast<uint32_t>(__builtin_clzll(payload));  // 2^lg <= payload
  uint32_t shift = lg - 3;
  auto j = static_cast<uint32_t>((payload - (size_t{1} << lg)) >> shift);  // 0..7
  // j == 0 (a power of two) is the previous doubling's last class: bin 64 for 1 KiB.
  return kFirstBigBin + (lg - 10) * kBigPerDoubling + j - 1;
}

// cached_bin_floor of a payload over kCachedMax below its limit, as a table by
// payload / 128 (no class bound lies strictly between two multiples of 128).
struct BigBinFloorTable {
  uint8_t bin[(kBigCachedMax + kBigCachedMax / kBigPerDoubling) / kBigBinStep];
  constexpr BigBinFloorTable() : bin() {
    for (size_t i = kCachedMax / kBigBinStep; i < sizeof bin; ++i)
      bin[i] = static_cast<uint8_t>(cached_bin_floor(i * kBigBinStep));
  }
};
inline constexpr BigBinFloorTable kBigBinFloorTable{};
// kCachedMax < payload < kBigCachedMax + kBigCachedMax / kBigPerDoubling.
MM_INLINE uint32_t big_cached_bin_floor(size_t payload) {
  return kBigBinFloorTable.bin[payload / kBigBinStep];
}

// The class byte the pagemap keeps for every page (and the flat class map for the
// free fast path): 1..16 are the slab classes; these mark the other span kinds.
// The medium and large bytes index the thread-cache bins after the last real one:
// the medium stash, and a bin that is always full (see dealloc_fast).
constexpr uint8_t kClsNone = 0;
constexpr uint8_t kClsMedium = kNumBins;
constexpr uint8_t kClsLarge = kNumBins + 1;
// Bins of medium chunks up to kCachedMax, 17..64, are also the flat class map's
// byte of a grid page (medium_run.cc): a page covered by chunks of that bin's
// size carved at multiples of it, which free() caches as it caches slab objects.
// Every other reader of the flat map sees kClsMedium there (class_of_fast).
MM_INLINE constexpr bool is_grid_class(uint32_t c) {
  return c - (kNumSmallClasses + 1) < kCachedMax / 16 - kNumSmallClasses;
}

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
  auto size = static_cast<uint32_t>(bin_size(bin));
  if (bin >= kFirstBigBin) {
    // One chunk at a time from 8 KiB up: each is a heap allocation of its own.
    uint32_t b = 8192 / size;
    return ClassInfo{size, 0, 0, b < 1 ? 1 : b};
  }
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
