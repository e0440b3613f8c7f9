// A medium heap's runs: a thread cache's refill of several chunks of one size.
// Carved one by one, each chunk unlinked its fit from a free list and linked the
// remainder into another (two writes to neighbouring free chunks' lines each);
// a run takes the fit once, carves as many chunks as it holds in address order and
// links what is left once; alloc is a run of one. Also the split that realloc
// uses. See docs/architecture.md, "medium tier".
#include "../common/assert.h"
#include "medium_heap.h"

namespace mm {

FreeChunk* MediumHeap::split_tail(Chunk* c, size_t keep, size_t total) {
  auto* rest = reinterpret_cast<Chunk*>(reinterpret_cast<char*>(c) + keep);
  rest->prev_size = keep;
  rest->set_free(total - keep);
  // The right neighbour by total, not by reading back the size (that load stalled).
  reinterpret_cast<Chunk*>(reinterpret_cast<char*>(c) + total)->prev_size = total - keep;
  return reinterpret_cast<FreeChunk*>(rest);
}

int MediumHeap::alloc_run(size_t csize, int n, void** out) {
  int got = 0;
  while (got < n) {
    freed_since_alloc_ = 0;
    if (MM_UNLIKELY(has_remote())) drain_remote();
    FreeChunk* f = find_fit(csize);
    if (!f) {
      if (!grow(csize)) break;
      f = find_fit(csize);
      if (!f) break;
    }
    got += carve_run(f, csize, n - got, out + got);
  }
  return got;
}

int MediumHeap::carve_run(FreeChunk* f, size_t csize, int n, void** out) {
  bin_remove(f);
  Chunk* c = &f->hdr;
  size_t have = c->size();
  MM_ASSERT(have >= csize && csize >= kMinChunk && n > 0);
  int got = 0;
  for (;;) {
    size_t keep = have - csize >= kMinChunk ? csize : have;
    c->set_used(keep);
    used_bytes_ += keep;
    // A stale thread-cache token from an earlier life of this address must not make
    // the chunk look cached (and its first free a double free).
    static_cast<uintptr_t*>(c->payload())[1] = 0;
    out[got++] = c->payload();
    if (keep == have) return got;
    FreeChunk* rest = split_tail(c, keep, have);
    have -= keep;
    if (got == n || have < csize) {
      bin_insert(rest, have);
      return got;
    }
    c = &rest->hdr;
  }
}

}  // namespace mm
