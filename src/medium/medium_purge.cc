// A medium heap's purging: the whole OS pages inside free chunks go back to the OS
// (by decay, after a burst of frees, on trim); trim also merges what other threads
// parked and returns the free top region. See docs/architecture.md, "Memory over
// time".
#include "../common/assert.h"
#include "../common/tuning.h"
#include "medium_heap.h"

namespace mm {

void MediumHeap::trim(bool purge) {
  drain_remote();
  release_spares();
  if (top_region_) return_if_free(top_region_);
  if (purge) purge_free_chunks(Purge::kAll);
}

void MediumHeap::purge_free_chunks(Purge which) {
  bool all = which == Purge::kAll;
  if (which == Purge::kDecayed) {
    uint32_t now = ph_->now_ms();
    if (now - last_decay_ms_ < ph_->decay_ms() / 2) return;
    last_decay_ms_ = now;
  }
  constexpr size_t kOsPage = 4096;  // madvise's unit
  int calls = 0;                    // the heap's lock is held: a pass stops after a bounded number
  // Chunks with at least one whole OS page past their links: from this bin up.
  for (size_t b = all ? free_bin_of(3 * kOsPage) : free_bin_of(kPurgeChunkMin); b < kNumFreeBins;
       ++b) {
    for (FreeChunk* f = bins_[b]; f && (all || calls < kPurgeCallsPerPass); f = f->next()) {
      Chunk* c = &f->hdr;
      if (c->has_flag(kChunkPurged)) continue;
      if (which == Purge::kDecayed && !c->has_flag(kChunkSeen)) {
        c->add_flag(kChunkSeen);  // free at this pass: purged at the next if still free
        continue;
      }
      auto lo = align_up(reinterpret_cast<uintptr_t>(f + 1), kOsPage);
      auto hi = (reinterpret_cast<uintptr_t>(c) + c->size()) & ~(kOsPage - 1);
      if (hi > lo) ph_->purge_range(reinterpret_cast<void*>(lo), hi - lo);
      c->add_flag(kChunkPurged);
      ++calls;
    }
  }
}

}  // namespace mm
