// The exported symbols: plain global functions with default visibility (everything
// else in the library is hidden). They stay thin: the logic lives in src/frontend.
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "../frontend/allocator.h"
#include "../frontend/process.h"
#include "../page/page_heap.h"
#include "mymalloc.h"
#include "stats.h"

#define MM_EXPORT extern "C" __attribute__((visibility("default")))

using mm::kAlignment;

namespace {
inline bool power_of_two(size_t a) { return a && !(a & (a - 1)); }
size_t sys_page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
}  // namespace

MM_EXPORT void* malloc(size_t n) { return mm::alloc(n); }
MM_EXPORT void free(void* p) { mm::dealloc(p); }  // errno: see dealloc_slow
MM_EXPORT void cfree(void* p) { free(p); }
MM_EXPORT void* calloc(size_t count, size_t size) { return mm::alloc_zeroed(count, size); }
MM_EXPORT void* realloc(void* p, size_t n) { return mm::realloc_block(p, n); }

MM_EXPORT void* reallocarray(void* p, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  return mm::realloc_block(p, total);
}

MM_EXPORT int posix_memalign(void** out, size_t align, size_t n) {
  if (!power_of_two(align) || align % sizeof(void*) != 0) return EINVAL;
  int saved = errno;
  void* p = mm::alloc_aligned(align, n);
  errno = saved;  // posix_memalign reports through its return value only
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

MM_EXPORT void* aligned_alloc(size_t align, size_t n) {
  // glibc accepts any power of two here (C17 dropped the multiple-of-align rule).
  if (!power_of_two(align)) {
    errno = EINVAL;
    return nullptr;
  }
  return mm::alloc_aligned(align, n);
}

MM_EXPORT void* memalign(size_t align, size_t n) {
  if (!power_of_two(align)) {
    // glibc rounds a non-power-of-two alignment up to the next power of two.
    if (align > (size_t{1} << 62)) {
      errno = EINVAL;
      return nullptr;
    }
    size_t a = kAlignment;
    while (a < align) a <<= 1;
    align = a;
  }
  return mm::alloc_aligned(align, n);
}

MM_EXPORT void* valloc(size_t n) { return mm::alloc_aligned(sys_page(), n); }

MM_EXPORT void* pvalloc(size_t n) {
  size_t page = sys_page();
  size_t rounded = (n + page - 1) & ~(page - 1);
  if (rounded < n) {
    errno = ENOMEM;
    return nullptr;
  }
  return mm::alloc_aligned(page, rounded ? rounded : page);
}

MM_EXPORT size_t malloc_usable_size(void* p) { return mm::usable_size(p); }

// glibc's internal names, which some programs and libraries call directly.
MM_EXPORT void* __libc_malloc(size_t n) { return malloc(n); }
MM_EXPORT void __libc_free(void* p) { free(p); }
MM_EXPORT void* __libc_calloc(size_t c, size_t n) { return calloc(c, n); }
MM_EXPORT void* __libc_realloc(void* p, size_t n) { return realloc(p, n); }
MM_EXPORT void* __libc_memalign(size_t a, size_t n) { return memalign(a, n); }
MM_EXPORT void* __libc_valloc(size_t n) { return valloc(n); }
MM_EXPORT void* __libc_pvalloc(size_t n) { return pvalloc(n); }

MM_EXPORT int malloc_trim(size_t) { return mm::purge_free_memory_bytes() > 0; }
// glibc's M_TRIM_THRESHOLD (-1) sets the release threshold (bytes kept free
// before they go back to the OS), as MYMALLOC_RELEASE_THRESHOLD does; the other
// parameters have no meaning here and report failure (0), as glibc does for a
// parameter it does not know, instead of pretending to apply them.
MM_EXPORT int mallopt(int param, int value) {
  if (param == -1 && value >= 0) {  // M_TRIM_THRESHOLD
    mm::ensure_init();
    mm::page_heap().set_purge_threshold(static_cast<size_t>(value) >> mm::kPageShift);
    return 1;
  }
  return 0;
}
MM_EXPORT void malloc_stats(void) { mm::print_stats(); }

// malloc_info(3): glibc's XML layout (one heap, the totals, system and address
// space sizes), with this allocator's figures, and its own element with the rest;
// without it glibc's version printed an all-zero document under the preload.
// The snapshot is taken first: fprintf may allocate, and no lock is held then.
MM_EXPORT int malloc_info(int options, FILE* fp) {
  if (options != 0 || !fp) {
    errno = EINVAL;
    return -1;
  }
  mm::Stats st = mm::collect_stats();
  size_t cached = st.thread_cache + st.transfer_cache;
  size_t free_bytes = st.small_free + st.medium_free + (st.page_free - st.page_purged);
  const char* totals =
      "<total type=\"fast\" count=\"0\" size=\"%zu\"/>\n"
      "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
      "<system type=\"current\" size=\"%zu\"/>\n"
      "<system type=\"max\" size=\"%zu\"/>\n"
      "<aspace type=\"total\" size=\"%zu\"/>\n"
      "<aspace type=\"mprotect\" size=\"%zu\"/>\n";
  fprintf(fp, "<malloc version=\"mymalloc-%s\">\n<heap nr=\"0\">\n<sizes>\n</sizes>\n",
          MYMALLOC_VERSION);
  fprintf(fp, totals, cached, st.page_free_spans, free_bytes, st.mapped, st.mapped, st.mapped,
          st.mapped);
  fprintf(fp, "</heap>\n");
  fprintf(fp, totals, cached, st.page_free_spans, free_bytes, st.mapped, st.mapped, st.mapped,
          st.mapped);
  fprintf(fp, "<total type=\"mmap\" count=\"0\" size=\"%zu\"/>\n", st.large_bytes);
  fprintf(fp,
          "<mymalloc in_use=\"%zu\" metadata=\"%zu\" thread_cache=\"%zu\" "
          "transfer_cache=\"%zu\" small_free=\"%zu\" medium_regions=\"%zu\" "
          "medium_free=\"%zu\" large=\"%zu\" page_free=\"%zu\" page_released=\"%zu\"/>\n",
          st.in_use, st.metadata, st.thread_cache, st.transfer_cache, st.small_free,
          st.medium_regions, st.medium_free, st.large_bytes, st.page_free, st.page_purged);
  fprintf(fp, "</malloc>\n");
  return 0;
}

MM_EXPORT void mymalloc_stats(void) { mm::print_stats(); }
MM_EXPORT size_t mymalloc_release_free_memory(void) { return mm::purge_free_memory_bytes(); }

// mallinfo/mallinfo2 with glibc's layouts.
struct mm_mallinfo2 {
  size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
struct mm_mallinfo {
  int arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};

MM_EXPORT mm_mallinfo2 mallinfo2(void) {
  mm::Stats s = mm::collect_stats();
  mm_mallinfo2 m{};
  m.arena = s.mapped;
  m.ordblks = s.page_free_spans;
  m.hblkhd = s.large_bytes;
  m.uordblks = s.in_use;
  m.fordblks = s.mapped - s.in_use;
  m.fsmblks = s.thread_cache + s.transfer_cache;
  m.keepcost = s.page_free - s.page_purged;
  return m;
}

MM_EXPORT mm_mallinfo mallinfo(void) {
  mm_mallinfo2 m2 = mallinfo2();
  mm_mallinfo m{};
  m.arena = static_cast<int>(m2.arena);
  m.ordblks = static_cast<int>(m2.ordblks);
  m.hblkhd = static_cast<int>(m2.hblkhd);
  m.uordblks = static_cast<int>(m2.uordblks);
  m.fordblks = static_cast<int>(m2.fordblks);
  m.fsmblks = static_cast<int>(m2.fsmblks);
  m.keepcost = static_cast<int>(m2.keepcost);
  return m;
}
