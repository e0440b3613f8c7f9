#include "meta.h"

#include "../common/tuning.h"
#include "../os/os.h"

namespace mm {

namespace {
Lock g_meta_lock{LockRank::kMeta};
char* g_cur = nullptr;
char* g_end = nullptr;
size_t g_mapped = 0;
}  // namespace

Lock& meta_lock() { return g_meta_lock; }

void* meta_alloc(size_t bytes) {
  bytes = align_up(bytes, 16);
  LockGuard g(g_meta_lock);
  if (static_cast<size_t>(g_end - g_cur) < bytes) {
    size_t want = bytes > kMetaChunk ? align_up(bytes, 4096) : kMetaChunk;
    char* c = static_cast<char*>(os::map(want));
    if (!c) return nullptr;
    g_mapped += want;
    g_cur = c;
    g_end = c + want;
  }
  void* r = g_cur;
  g_cur += bytes;
  return r;
}

size_t meta_bytes_mapped() { return g_mapped; }

}  // namespace mm
