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
  uint32_t size;        // object bytes
  uint32_t pages;       // span length of a slab
  uint32_t objects;     // objects per slab
  uint32_t batch;       // objects moved between thread cache and back end at once
  uint32_t per_page;    // objects per page: each page of a slab starts a new object
  uint32_t recip;       // 2^32 / size, rounded up: x / size == x * recip >> 32 for x < 2^19
  uint32_t page_recip;  // the same for per_page
};

// Slabs are laid out page by page: every page begins with an object, and the few
// bytes after a page's last object stay unused (at most 128 of 8 KiB, 1.6%, for
// 144, 192 and 224 B; none for powers of two). So an object's position inside its
// page says whether a pointer is an object's start, which the free fast path
// checks with one table lookup (object_start below), and an aligned interior
// pointer is refused before its bin could hand it out. At least 64 objects per
// slab (checked in tests/test_size_class.cc). Small batches: kSmallBatch.
constexpr ClassInfo make_class_info(uint32_t bin) {
  if (bin == 0) return ClassInfo{0, 0, 0, 0, 0, 0, 0};
  uint32_t size = bin * 16;
  if (bin > kNumSmallClasses) {
    // Medium bins: batches from the medium heap, smaller for bigger chunks so
    // that a thread cache holds few bytes that merging could use.
    uint32_t b = 8192 / size;
    return ClassInfo{size, 0, 0, b < 2 ? 2 : (b > 16 ? 16 : b), 0, 0, 0};
  }
  uint32_t per_page = static_cast<uint32_t>(kPageSize / size);
  uint32_t pages = (64 + per_page - 1) / per_page;
  auto recip = [](uint32_t d) { return static_cast<uint32_t>(((uint64_t{1} << 32) + d - 1) / d); };
  return ClassInfo{size,     pages,       pages * per_page, kSmallBatch,
                   per_page, recip(size), recip(per_page)};
}

struct ClassTable {
  ClassInfo info[kNumBins];
  constexpr ClassTable() : info() {
    for (uint32_t i = 0; i < kNumBins; ++i) info[i] = make_class_info(i);
  }
};
inline constexpr ClassTable kClasses{};

MM_INLINE constexpr const ClassInfo& class_info(uint32_t bin) { return kClasses.info[bin]; }

// A slab object's index and offset from its slab's base (see make_class_info).
MM_INLINE constexpr size_t slab_offset(uint32_t cls, uint32_t idx) {
  const ClassInfo& ci = class_info(cls);
  auto page = static_cast<uint32_t>(uint64_t{idx} * ci.page_recip >> 32);  // idx / per_page
  return (size_t{page} << kPageShift) + size_t{idx - page * ci.per_page} * ci.size;
}
// The index of the object at offset off, which must be an object's start.
MM_INLINE constexpr uint32_t slab_index(uint32_t cls, size_t off) {
  const ClassInfo& ci = class_info(cls);
  return static_cast<uint32_t>((off >> kPageShift) * ci.per_page +
                               ((off & (kPageSize - 1)) * ci.recip >> 32));
}

// Bytes in one batch of a bin: the unit transfer caches are sized in.
MM_INLINE constexpr size_t batch_bytes(uint32_t bin) {
  return size_t{class_info(bin).batch} * class_info(bin).size;
}

// Whether p is an object's start in a page of class byte cls, by p's offset in its
// page: for every 16-byte unit of a page, one bit per class byte (masked to 6
// bits, as bt masks it) saying whether an object of that class starts there. The
// entries are 16 bytes apart, so `p & (kPageSize - 16)` is the entry's byte
// offset: the free fast path pays an and, a load and a bit test. Class bytes that
// are not slab classes pass (their own checks apply later): none (0), and medium
// (65), whose bit is that of the 16-byte class, which starts at every unit; large
// (66) shares the 32-byte class's bit and fails at odd units, which only sends it
// to the slow path that large blocks take anyway. The low 4 bits of p are not
// looked at: a misaligned free is refused by the next malloc of its bin (bin_pop).
struct ObjectStartTable {
  struct alignas(16) Entry {
    uint64_t classes;
    uint64_t unused;
  };
  Entry at[kPageSize / 16];
  constexpr ObjectStartTable() : at() {
    for (uint32_t u = 0; u < kPageSize / 16; ++u) {
      uint64_t bits = ~uint64_t{0};
      for (uint32_t c = 1; c <= kNumSmallClasses; ++c) {
        uint32_t size = c * 16, off = u * 16;
        if (off % size != 0 || off + size > kPageSize) bits &= ~(uint64_t{1} << c);
      }
      at[u] = Entry{bits, 0};
    }
  }
};
static_assert((kClsMedium & 63) == 1 && (kClsLarge & 63) == 2 && kNumSmallClasses < 63,
              "object_start's bit for the medium byte is the 16-byte class's");
inline constexpr ObjectStartTable kObjectStart{};
MM_INLINE bool object_start(size_t cls, const void* p) {
  uint64_t bits =
      *reinterpret_cast<const uint64_t*>(reinterpret_cast<const char*>(kObjectStart.at) +
                                         (reinterpret_cast<uintptr_t>(p) & (kPageSize - 16)));
#if defined(__x86_64__)
  bool set;  // one bt: GCC spends a shift, an and and a test on the portable form
  asm("btq %2, %1" : "=@ccc"(set) : "r"(bits), "r"(cls));
  return set;
#else
  return (bits >> (cls & 63)) & 1;
#endif
}

}  // namespace mm
