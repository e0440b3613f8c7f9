// Boundary-tag chunks of the medium tier.
//
// [prev_size 8][head 8][payload ...]   head = size | magic << 48 | flags
//
// Sizes include the 16-byte header and are multiples of 16, so payloads are 16-byte
// aligned. prev_size is always the size of the chunk to the left (0 for the first
// chunk of a region), so both neighbours are found in O(1) for immediate coalescing.
// A region ends in a 16-byte in-use sentinel. The magic differs for free and
// in-use chunks: a pointer we never returned, or a second free, is caught at once.
#pragma once
#include "../common/common.h"

namespace mm {

constexpr uint64_t kChunkInUse = 1;
constexpr uint64_t kChunkSentinel = 2;
// Free chunks only (set_free clears them): its whole pages were purged, or a decay
// pass found it free already (the next one purges it).
constexpr uint64_t kChunkPurged = 4;
constexpr uint64_t kChunkSeen = 8;
constexpr uint64_t kChunkFlagMask = 0xf;
constexpr uint64_t kMagicShift = 48;
constexpr uint64_t kMagicUsed = uint64_t{0x6d6d} << kMagicShift;  // "mm", mixed with the size:
// the magic of an in-use chunk depends on its size, so that a size word enlarged
// by an overflow that kept the magic is refused on the spot (the free path reads
// nothing but the chunk's own header: reading the right neighbour's tag there
// cost larson 40% at two threads, its line being another thread's). The magic
// holds bits 4..19 of the size (xored into "mm"): any size that differs from the
// true one in those bits is refused, as with the multiplicative hash used before
// (which also depended on those 16 bits only), and computing it is one shift
// where the hash took a shift, a multiply and a shift on realloc's fast path.
MM_INLINE constexpr uint64_t used_magic(uint64_t size) {
  return kMagicUsed ^ (size << (kMagicShift - 4));
}
// The whole header word of an in-use chunk of this size: what set_used writes and
// what the stash drain compares a header with.
MM_INLINE constexpr uint64_t used_head(uint64_t size) {
  return size | used_magic(size) | kChunkInUse;
}
constexpr uint64_t kMagicFree = uint64_t{0x4646} << kMagicShift;  // "FF"
constexpr uint64_t kMagicMask = uint64_t{0xffff} << kMagicShift;
constexpr size_t kChunkHeader = 16;
constexpr size_t kMinChunk = 32;  // header + two free-list links

struct Chunk {
  uint64_t prev_size;  // written under the heap lock only
  // The header word is read outside the heap lock (free's checks, the stash drain,
  // realloc's fit test), and a bad free may read one the owner is rewriting while
  // it merges: so every access is a relaxed atomic, a plain mov on x86-64.
  uint64_t head_;

  uint64_t head() const { return __atomic_load_n(&head_, __ATOMIC_RELAXED); }
  void set_head(uint64_t h) { __atomic_store_n(&head_, h, __ATOMIC_RELAXED); }
  size_t size() const { return head() & ~(kMagicMask | kChunkFlagMask); }
  bool in_use() const { return head() & kChunkInUse; }
  bool sentinel() const { return head() & kChunkSentinel; }
  // A header word of an in-use chunk whose magic matches its size: the magic's
  // bits xored with the size's bits 4..19 (shifted under them) give "mm".
  static bool valid_used_head(uint64_t h) {
    return ((h ^ (h << (kMagicShift - 4))) & (kMagicMask | kChunkInUse | kChunkSentinel)) ==
           (kMagicUsed | kChunkInUse);
  }
  bool valid_used() const { return valid_used_head(head()); }
  bool valid_free() const { return (head() & (kMagicMask | kChunkInUse)) == kMagicFree; }
  void set_used(size_t sz) { set_head(used_head(sz)); }
  void set_free(size_t sz) { set_head(sz | kMagicFree); }
  bool has_flag(uint64_t f) const { return head() & f; }
  void add_flag(uint64_t f) { set_head(head() | f); }
  void set_sentinel() { set_head(used_head(kChunkHeader) | kChunkSentinel); }
  Chunk* next() { return reinterpret_cast<Chunk*>(reinterpret_cast<char*>(this) + size()); }
  Chunk* prev() { return reinterpret_cast<Chunk*>(reinterpret_cast<char*>(this) - prev_size); }
  void* payload() { return reinterpret_cast<char*>(this) + kChunkHeader; }
  static Chunk* of(void* p) {
    return reinterpret_cast<Chunk*>(static_cast<char*>(p) - kChunkHeader);
  }
};

// Links of a free chunk live in its payload, where a use-after-free write can
// reach them: so they are stored encoded, as the thread caches' lists are
// (next_of, keyed by the secret), and a decoded link that is not 16-byte
// aligned, as a forged address never is, aborts before it is used.
struct FreeChunk {
  Chunk hdr;
  FreeChunk* next() { return decode(&next_); }
  FreeChunk* prev() { return decode(&prev_); }
  void set_next(FreeChunk* f) { next_of(&next_) = f; }
  void set_prev(FreeChunk* f) { next_of(&prev_) = f; }

 private:
  static FreeChunk* decode(void** slot) {
    void* v = next_of(slot);
    if (MM_UNLIKELY(reinterpret_cast<uintptr_t>(v) & 15))
      fatal("malloc", "corrupted free list (medium) at", slot);
    return static_cast<FreeChunk*>(v);
  }
  void* next_;
  void* prev_;
};

// Chunk bytes for a request of n bytes (n > 0).
MM_INLINE constexpr size_t chunk_size_for(size_t n) { return align_up(n, 16) + kChunkHeader; }

}  // namespace mm
