// A medium heap's runs: a thread cache's refill of several chunks of one size.
// Carved one by one, each chunk unlinked its fit from a free list and linked the
// remainder into another (two writes to neighbouring free chunks' lines each);
// a run takes the fit once, carves as many chunks as it holds in address order and
// links what is left once; alloc is a run of one. Also the split that realloc
// uses. See docs/architecture.md, "medium tier".
#include "../common/assert.h"
#include "medium_heap.h"

namespace mm {

namespace {
// A chunk's second word, where the thread cache keeps its token: spares carry it
// (a free of one is a double free), chunks handed out do not.
MM_INLINE uintptr_t& token_word(void* p) { return static_cast<uintptr_t*>(p)[1]; }
// Grid bins (17..64) by chunk size, and the index of their spares (from 0).
MM_INLINE uint32_t grid_bin_of(size_t csize) {
  return static_cast<uint32_t>((csize - kChunkHeader) / 16);
}
constexpr uint32_t kFirstGridBin = kNumSmallClasses + 1;
}  // namespace

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
    token_word(c->payload()) = 0;
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

int MediumHeap::alloc_grid(size_t csize, int n, void** out) {
  MM_ASSERT(is_grid_class(grid_bin_of(csize)) && n > 0);
  if (MM_UNLIKELY(has_remote())) drain_remote();  // may bring spares
  const uint32_t i = grid_bin_of(csize) - kFirstGridBin;
  int got = 0;
  while (got < n && spares_[i]) {
    void* p = spare_[i][--spares_[i]];
    token_word(p) = 0;
    out[got++] = p;
  }
  if (got == n || !ph_->pagemap()->has_class_map()) return got;
  freed_since_alloc_ = 0;
  // Holes are filled first, as alloc_run fills them (runs from bigger free chunks
  // left them, and the footprint grew by a sixth); a grid run only from a fit that
  // holds one, or after the heap grew.
  const size_t need = 2 * kPageSize + size_t(n + 3) * csize + 2 * kMinChunk;
  while (got < n) {
    FreeChunk* f = find_fit(csize);
    if (!f && (!grow(need) || !(f = find_fit(need)))) break;
    int k = f->hdr.size() >= need ? carve_grid(f, csize, n - got, out + got) : 0;
    got += k ? k : carve_run(f, csize, n - got, out + got);
  }
  return got;
}

int MediumHeap::carve_grid(FreeChunk* f, size_t csize, int n, void** out) {
  // A run: chunks at grid positions (payloads at multiples of csize in their low 32
  // bits, as the start check reads them) over at least one whole page.
  const uint32_t bin = grid_bin_of(csize), i = bin - kFirstGridBin;
  int got = 0;
  Chunk* c = &f->hdr;
  const auto a = reinterpret_cast<uintptr_t>(c);
  const size_t have = c->size();
  // The first chunk at the fit's start, or at the first grid position of the next
  // page when the run would otherwise carve more than a quarter page ahead of a
  // page that holds no other position; what lies before it stays free.
  auto first_at = [&](uintptr_t from) {
    uintptr_t q = from + (csize - static_cast<uint32_t>(from) % csize) % csize;
    if (q - kChunkHeader != a && q - kChunkHeader - a < kMinChunk) q += csize;
    return q;
  };
  uintptr_t q0 = first_at(a + kChunkHeader);
  uintptr_t pg = align_up(q0 - csize + 1, kPageSize);  // no position before q0 on it
  if (pg - q0 + csize > kPageSize / 4) {
    pg = align_up(a + kChunkHeader, kPageSize);
    q0 = first_at(pg);
    if (q0 - csize >= pg) q0 = first_at(pg += kPageSize);
  }
  const size_t lead = q0 - kChunkHeader - a;
  size_t m = (pg + kPageSize - q0 + csize - 1) / csize;
  if (m < static_cast<size_t>(n)) m = static_cast<size_t>(n);
  const size_t run = m * csize, tail = have - lead - run;
  if (lead + run > have || (tail != 0 && tail < kMinChunk) ||
      m - static_cast<size_t>(n) > kSpareMax ||
      static_cast<uint32_t>(q0) > static_cast<uint32_t>(q0 + run - csize))
    return 0;  // or past a 4 GiB boundary of the low bits
  bin_remove(f);
  Chunk* x = c;
  if (lead) {
    x = &split_tail(c, lead, have)->hdr;
    c->set_free(lead);  // binned once its right neighbour is in use
  }
  for (size_t k = 0, left = have - lead;; ++k, left -= csize) {
    x->set_used(csize);
    used_bytes_ += csize;
    void* p = x->payload();
    if (got < n) {
      token_word(p) = 0;
      out[got++] = p;
    } else {
      token_word(p) = g_token_secret;
      spare_[i][spares_[i]++] = p;
    }
    if (k + 1 == m) {
      if (tail) bin_insert(split_tail(x, csize, left), tail);
      break;
    }
    x = &split_tail(x, csize, left)->hdr;
  }
  if (lead) bin_insert(f, lead);
  // Every grid position on the pages from pg to the run's end is one of its chunks.
  ph_->pagemap()->set_grid(page_of(reinterpret_cast<void*>(pg)), (q0 + run - pg) / kPageSize,
                           static_cast<uint8_t>(bin));
  return got;
}

bool MediumHeap::to_spare(Chunk* c) {
  void* p = c->payload();
  uint32_t bin = ph_->pagemap()->grid_bin(page_of(p));
  if (!bin) return false;
  const uint32_t i = bin - kFirstGridBin;
  // An orphan (owners 0, freed into by other threads) keeps none: nobody refills
  // from it until a thread adopts it.
  if (c->size() == bin_size(bin) + kChunkHeader && spares_[i] * c->size() < kPageSize &&
      __atomic_load_n(&owners, __ATOMIC_RELAXED) != 0) {
    token_word(p) = g_token_secret;
    spare_[i][spares_[i]++] = p;
    return true;
  }
  ungrid(c, c->size());
  return false;
}

size_t MediumHeap::spare_bytes() const {
  size_t total = 0;
  for (uint32_t i = 0; i < kGridBins; ++i)
    total += spares_[i] * (bin_size(kFirstGridBin + i) + kChunkHeader);
  return total;
}

void MediumHeap::release_spares() {
  for (uint32_t i = 0; i < kGridBins; ++i) {
    while (spares_[i]) {
      Chunk* c = Chunk::of(spare_[i][--spares_[i]]);
      ungrid(c, c->size());
      free_checked(c);
    }
  }
}

}  // namespace mm
