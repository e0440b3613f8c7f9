#include "os.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace mm::os {

namespace {
bool g_brk_broken = false;  // sbrk failed for a reason other than the limit
// Written under the page heap's lock, read by any thread's allocation retry.
size_t g_grown = 0;

void* grow_brk(size_t bytes) {
  uintptr_t cur = reinterpret_cast<uintptr_t>(sbrk(0));
  if (cur == static_cast<uintptr_t>(-1)) return nullptr;
  size_t pad = align_up(cur, kPageSize) - cur;  // only the first growth pads
  void* r = sbrk(static_cast<intptr_t>(bytes + pad));
  if (r == reinterpret_cast<void*>(-1)) return nullptr;
  uintptr_t got = reinterpret_cast<uintptr_t>(r);
  uintptr_t start = align_up(got, kPageSize);
  if (start + bytes > got + bytes + pad) {
    // Someone else moved the break between our two calls: take the shortfall too.
    if (sbrk(static_cast<intptr_t>(start + bytes - (got + bytes + pad))) ==
        reinterpret_cast<void*>(-1)) {
      sbrk(-static_cast<intptr_t>(bytes + pad));
      return nullptr;
    }
  }
  return reinterpret_cast<void*>(start);
}

void* grow_mmap(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  if ((reinterpret_cast<uintptr_t>(p) & (kPageSize - 1)) == 0) return p;
  // mmap gives 4 KiB alignment; we need 8 KiB. Map half a page more and trim.
  munmap(p, bytes);
  size_t over = bytes + kPageSize - 4096;
  char* q = static_cast<char*>(
      mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (q == MAP_FAILED) return nullptr;
  uintptr_t start = align_up(reinterpret_cast<uintptr_t>(q), kPageSize);
  size_t head = start - reinterpret_cast<uintptr_t>(q);
  if (head) munmap(q, head);
  if (over - head > bytes) munmap(reinterpret_cast<char*>(start) + bytes, over - head - bytes);
  return reinterpret_cast<void*>(start);
}
}  // namespace

void* grow(size_t bytes) {
  void* p = nullptr;
  if (!g_brk_broken) {
    p = grow_brk(bytes);
  }
  if (!p) {
    p = grow_mmap(bytes);
    // brk failed where mmap did not: the break is blocked by a mapping, not by the
    // data limit (which charges both alike), so stop trying it.
    if (p) g_brk_broken = true;
  }
  if (!p) {
    errno = ENOMEM;
    return nullptr;
  }
  __atomic_store_n(&g_grown, g_grown + bytes, __ATOMIC_RELAXED);
  return p;
}

void purge(void* p, size_t bytes) {
  ErrnoKeeper keep;
  madvise(p, bytes, MADV_DONTNEED);
}

bool populate(void* p, size_t bytes) {
  constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE, missing from older headers
  static bool unsupported = false;    // EINVAL once: not asked again
  if (__atomic_load_n(&unsupported, __ATOMIC_RELAXED)) return false;
  ErrnoKeeper keep;
  if (madvise(p, bytes, kPopulateWrite) == 0) return true;
  if (errno == EINVAL) __atomic_store_n(&unsupported, true, __ATOMIC_RELAXED);
  return false;
}

void* map(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

bool decommit(void* p, size_t bytes) {
  ErrnoKeeper keep;
  return mmap(p, bytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
              0) == p;
}

bool commit(void* p, size_t bytes) {
  ErrnoKeeper keep;
  return mprotect(p, bytes, PROT_READ | PROT_WRITE) == 0;
}

bool move_pages(void* from, void* to, size_t bytes) {
#if defined(MREMAP_DONTUNMAP)
  ErrnoKeeper keep;
  return mremap(from, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, to) == to;
#else
  (void)from, (void)to, (void)bytes;
  return false;
#endif
}

bool data_limited() {
  struct rlimit rl;
  return getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
}

uint32_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // vDSO, no system call
  return static_cast<uint32_t>(static_cast<uint64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000);
}

size_t grown_bytes() { return __atomic_load_n(&g_grown, __ATOMIC_RELAXED); }

}  // namespace mm::os
