#include "checked.h"

#include <errno.h>
#include <string.h>

#include "../common/config.h"
#include "../medium/chunk.h"
#include "../meta/meta.h"
#include "../page/pagemap.h"

namespace mm {

namespace {
// Block layout: [requested n bytes][canary, at least 8 bytes][trailer, 8 bytes].
// The trailer holds n ^ key ^ address while the block is live, kFreed ^ key ^
// address once it is freed; the rest of a freed block (past the 16 bytes the
// allocator's lists use) holds kJunk.
constexpr size_t kExtra = 16;
constexpr unsigned char kCanary = 0xcb;
constexpr unsigned char kJunk = 0xdf;
constexpr uintptr_t kFreed = 0xf7eed0b10cf7eed0;
constexpr size_t kOsPage = 4096;

uintptr_t key(const void* p) {
  return g_secret * 0x9e3779b97f4a7c15 ^ reinterpret_cast<uintptr_t>(p);
}
// The trailer of a freed block: one value for every block, so that the trailers
// of smaller blocks that lived inside a freed one (and were freed in turn) are
// recognised when its junk is verified.
uintptr_t freed_mark() { return kFreed ^ g_secret; }
uintptr_t& trailer(void* p, size_t usable) {
  return *reinterpret_cast<uintptr_t*>(static_cast<char*>(p) + usable - 8);
}

// Whether the bytes [from, to) of p that the program could not have written since
// the free still hold kJunk. Whole OS pages of zeros are allowed: the allocator
// purged them (decay, trim), and they read zero.
size_t first_junk_mismatch(const unsigned char* p, size_t from, size_t to) {
  for (size_t i = from; i < to; ++i) {
    if (p[i] == kJunk) continue;
    // What the allocator wrote while this block's memory was free and served
    // other blocks (a slab of another class, a medium region): the trailers of
    // freed blocks that lived inside it, free-list links (encoded, see next_of),
    // a medium chunk's header (a 16-byte aligned word pair whose second word
    // carries a chunk magic) and a free chunk's two links after it.
    size_t w = i & ~size_t{7};  // blocks, trailers and links are 8-byte aligned
    if (w + 8 <= to && w >= from) {
      void* word = const_cast<unsigned char*>(p + w);
      auto link = reinterpret_cast<uintptr_t>(static_cast<void*>(next_of(word)));
      if (*static_cast<const uintptr_t*>(word) == freed_mark() ||  // an inner block's trailer
          link == 0 ||
          ((link & 15) == 0 && class_of_fast(page_of(reinterpret_cast<void*>(link))) !=
                                   kClsNone)) {  // an object's free-list link
        i = w + 7;
        continue;
      }
    }
    size_t hdr = i & ~size_t{15};  // p is 16-byte aligned
    if (hdr >= from && hdr + 16 <= to) {
      uint64_t head = reinterpret_cast<const Chunk*>(p + hdr)->head();
      uint64_t size = head & ~(kMagicMask | kChunkFlagMask);
      if ((head & kMagicMask) == used_magic(size) || (head & kMagicMask) == kMagicFree) {
        i = hdr + 32 - 1;  // the loop's ++i moves past the links
        continue;
      }
    }
    uintptr_t page = reinterpret_cast<uintptr_t>(p + i) & ~(kOsPage - 1);
    size_t lo = page - reinterpret_cast<uintptr_t>(p), hi = lo + kOsPage;
    if (lo < from) lo = from;
    if (hi > to) hi = to;
    bool purged = true;
    for (size_t k = lo; k < hi && purged; ++k) purged = p[k] == 0;
    if (!purged) return i;
    i = hi - 1;
  }
  return to;
}

// The requested size of a live block, after checking its trailer and canary.
size_t live_size(void* p, const char* func) {
  size_t usable = usable_size_unchecked(p, func);  // reports pointers that are not ours
  uintptr_t t = trailer(p, usable);
  if (t == freed_mark()) fatal(func, "double free of", p);
  size_t n = t ^ key(p);
  if (usable < kExtra || n > usable - kExtra)
    fatal(func, "write past the end of a block (its trailer is overwritten):", p);
  const auto* c = static_cast<const unsigned char*>(p);
  for (size_t i = n; i < usable - 8; ++i)
    if (c[i] != kCanary) fatal(func, "write past the end of a block, found at", c + i);
  return n;
}
}  // namespace

void* checked_alloc(size_t n, size_t align) {
  if (n > PTRDIFF_MAX - kExtra) {
    errno = ENOMEM;
    return nullptr;
  }
  void* p = align ? alloc_aligned_unchecked(align, n + kExtra) : alloc_unchecked(n + kExtra);
  if (!p) return nullptr;
  size_t usable = usable_size_unchecked(p);
  auto* c = static_cast<unsigned char*>(p);
  // Verified for slab objects only: medium and large memory is split, merged,
  // purged and carved again between two lives of a block, and what the allocator
  // writes there cannot be told from a program's writes cheaply.
  if (usable <= kSmallMax && trailer(p, usable) == freed_mark()) {
    size_t i = first_junk_mismatch(c, 16, usable - 8);
    if (i != usable - 8)
      fatal("malloc", "a freed block was written to (use after free), at", c + i);
  }
  memset(c + n, kCanary, usable - 8 - n);
  trailer(p, usable) = n ^ key(p);
  return p;
}

namespace {
// The quarantine: a ring of freed medium and large blocks, oldest first. Nothing
// but a use after free writes into them while they wait, so their pattern is
// checked byte for byte when they leave.
constexpr size_t kQuarantineBytes = 16 << 20;
constexpr uint32_t kQuarantineSlots = 4096;
struct Quarantined {
  void* p;
  size_t usable;
};
Lock g_quarantine_lock{LockRank::kQuarantine};
Quarantined* g_ring;  // kQuarantineSlots, from metadata at first use
uint32_t g_ring_head, g_ring_count;
size_t g_ring_bytes;

void release_checked(void* p, size_t usable) {
  const auto* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < usable - 8; ++i)
    if (c[i] != kJunk) fatal("free", "a freed block was written to (use after free), at", c + i);
  if (trailer(p, usable) != freed_mark())
    fatal("free", "a freed block was written to (use after free), at", c + usable - 8);
  dealloc_unchecked(p);
}
}  // namespace

Lock& quarantine_lock() { return g_quarantine_lock; }

void checked_free(void* p, const char* func) {
  live_size(p, func);
  size_t usable = usable_size_unchecked(p);
  memset(p, kJunk, usable - 8);
  trailer(p, usable) = freed_mark();
  if (usable <= kSmallMax || usable > kQuarantineBytes / 4) {
    dealloc_unchecked(p);
    return;
  }
  // Into the quarantine; what it pushes out is verified and freed outside the lock.
  Quarantined out[8];
  int n_out = 0;
  {
    LockGuard g(g_quarantine_lock);
    if (!g_ring)
      g_ring = static_cast<Quarantined*>(meta_alloc(sizeof(Quarantined) * kQuarantineSlots));
    if (!g_ring) {
      n_out = -1;  // no metadata: no quarantine
    } else {
      while (n_out < 8 && g_ring_count &&
             (g_ring_count == kQuarantineSlots || g_ring_bytes + usable > kQuarantineBytes)) {
        out[n_out++] = g_ring[g_ring_head];
        g_ring_bytes -= g_ring[g_ring_head].usable;
        g_ring_head = (g_ring_head + 1) % kQuarantineSlots;
        --g_ring_count;
      }
      g_ring[(g_ring_head + g_ring_count) % kQuarantineSlots] = Quarantined{p, usable};
      ++g_ring_count;
      g_ring_bytes += usable;
    }
  }
  if (n_out < 0) return dealloc_unchecked(p);
  for (int i = 0; i < n_out; ++i) release_checked(out[i].p, out[i].usable);
}

void* checked_realloc(void* p, size_t n) {
  if (!p) return checked_alloc(n, 0);
  size_t old = live_size(p, "realloc");
  if (n == 0) {  // glibc: frees and returns NULL
    checked_free(p, "realloc");
    return nullptr;
  }
  void* q = checked_alloc(n, 0);  // always moves: a stale pointer then reads junk
  if (!q) return nullptr;
  memcpy(q, p, old < n ? old : n);
  checked_free(p, "realloc");
  return q;
}

size_t checked_usable_size(void* p) { return live_size(p, "malloc_usable_size"); }

}  // namespace mm
