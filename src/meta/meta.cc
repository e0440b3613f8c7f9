#include "meta.h"

#include "../os/os.h"

namespace mm {

namespace {
// 32 KiB chunks: small enough that a tiny program's VmData barely moves.
constexpr size_t kMetaChunk = 32 * 1024;
Lock g_meta_lock;
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
