// The exported symbols: plain global functions with default visibility (everything
// else in the library is hidden). They stay thin: the logic lives in src/frontend.
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <unistd.h>

#include "../common/config.h"
#include "../frontend/allocator.h"
#include "../frontend/process.h"
#include "../frontend/profile.h"
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
// mallopt(3): glibc's parameters that have a counterpart here are applied, as the
// MYMALLOC_* variables would, and report success (1): M_TRIM_THRESHOLD (bytes
// kept free before they go back to the OS: MYMALLOC_RELEASE_THRESHOLD),
// M_MMAP_THRESHOLD (requests above it get pages of their own: MYMALLOC_MEDIUM_MAX)
// and M_ARENA_MAX (MYMALLOC_MAX_HEAPS). The others have no meaning here, and values out of an
// option's range change nothing: both report failure (0), as glibc does, instead of pretending to
// apply them.
MM_EXPORT int mallopt(int param, int value) {
  if (value < 0) return 0;
  size_t v = static_cast<size_t>(value);
  mm::ensure_init();
  switch (param) {
    case -1:  // M_TRIM_THRESHOLD
      mm::config_set(&mm::Config::purge_threshold, v);
      mm::page_heap().set_purge_threshold(v >> mm::kPageShift);
      return 1;
    case -3:  // M_MMAP_THRESHOLD
      return mm::config_set(&mm::Config::medium_max, v);
    case -8:  // M_ARENA_MAX
      return mm::config_set(&mm::Config::max_heaps, v);
    default:
      return 0;
  }
}
MM_EXPORT void malloc_stats(void) { mm::print_stats(2, false); }

namespace {
// glibc's summary figures, shared by malloc_info and mallinfo2 so that they agree:
// "fast" bytes are the free objects in thread and transfer caches, "rest" the
// other free bytes that still hold memory (free objects in slabs, free space in
// medium regions, committed free pages); the arena is every byte obtained and
// not given back.
struct GlibcView {
  size_t arena, in_use, fast, rest, free_spans, mmapped;
};
GlibcView glibc_view(const mm::Stats& s) {
  return GlibcView{s.mapped - s.page_purged,
                   s.in_use,
                   s.thread_cache + s.transfer_cache,
                   s.small_free + s.medium_free + (s.page_free - s.page_purged),
                   s.page_free_spans,
                   s.large_bytes};
}
}  // namespace

// malloc_info(3): glibc's XML layout (one heap; its free objects by size class;
// the totals, system and address space sizes), with this allocator's figures, and
// its own element with the rest; without it glibc's version printed an all-zero
// document under the preload. The snapshot is taken first: fprintf may allocate,
// and no lock is held then.
MM_EXPORT int malloc_info(int options, FILE* fp) {
  if (options != 0 || !fp) {
    errno = EINVAL;
    return -1;
  }
  mm::Stats st = mm::collect_stats();
  GlibcView g = glibc_view(st);
  const char* totals =
      "<total type=\"fast\" count=\"%zu\" size=\"%zu\"/>\n"
      "<total type=\"rest\" count=\"%zu\" size=\"%zu\"/>\n"
      "<system type=\"current\" size=\"%zu\"/>\n"
      "<system type=\"max\" size=\"%zu\"/>\n"
      "<aspace type=\"total\" size=\"%zu\"/>\n"
      "<aspace type=\"mprotect\" size=\"%zu\"/>\n";
  size_t cached_objects = 0;
  fprintf(fp, "<malloc version=\"mymalloc-%s\">\n<heap nr=\"0\">\n<sizes>\n", MYMALLOC_VERSION);
  for (uint32_t bin = 1; bin < mm::kNumBins; ++bin) {
    size_t n = st.classes[bin].cached, size = mm::bin_size(bin);
    cached_objects += n;
    if (n)
      fprintf(fp, "<size from=\"%zu\" to=\"%zu\" total=\"%zu\" count=\"%zu\"/>\n", size - 15, size,
              n * size, n);
  }
  fprintf(fp, "</sizes>\n");
  fprintf(fp, totals, cached_objects, g.fast, g.free_spans, g.rest, g.arena, st.peak_mapped,
          st.mapped, st.mapped);
  fprintf(fp, "</heap>\n");
  fprintf(fp, totals, cached_objects, g.fast, g.free_spans, g.rest, g.arena, st.peak_mapped,
          st.mapped, st.mapped);
  fprintf(
      fp, "<total type=\"mmap\" count=\"%zu\" size=\"%zu\"/>\n",
      static_cast<size_t>(st.classes[mm::kClsLarge].fetched - st.classes[mm::kClsLarge].returned),
      g.mmapped);
  fprintf(fp,
          "<mymalloc in_use=\"%zu\" metadata=\"%zu\" thread_cache=\"%zu\" "
          "transfer_cache=\"%zu\" small_free=\"%zu\" medium_regions=\"%zu\" "
          "medium_free=\"%zu\" large=\"%zu\" page_free=\"%zu\" page_released=\"%zu\" "
          "peak_mapped=\"%zu\" peak_active=\"%zu\">\n",
          st.in_use, st.metadata, st.thread_cache, st.transfer_cache, st.small_free,
          st.medium_regions, st.medium_free, st.large_bytes, st.page_free, st.page_purged,
          st.peak_mapped, st.peak_active);
  for (uint32_t c = 1; c < mm::kNumBins + 2; ++c) {
    const mm::ClassCounts& k = st.classes[c];
    if (!k.fetched && !k.cached) continue;
    if (c < mm::kNumBins)
      fprintf(fp, "<class size=\"%zu\"", mm::bin_size(c));
    else
      fprintf(fp, "<class size=\"%s\"", c == mm::kClsMedium ? "medium" : "large");
    fprintf(fp, " fetched=\"%llu\" returned=\"%llu\" cached=\"%llu\"/>\n",
            static_cast<unsigned long long>(k.fetched), static_cast<unsigned long long>(k.returned),
            static_cast<unsigned long long>(k.cached));
  }
  fprintf(fp, "</mymalloc>\n</malloc>\n");
  return 0;
}

MM_EXPORT void mymalloc_stats(void) { mm::print_stats(2, false); }
MM_EXPORT void mymalloc_stats_json(int fd) { mm::print_stats(fd, true); }
MM_EXPORT size_t mymalloc_release_free_memory(void) { return mm::purge_free_memory_bytes(); }
MM_EXPORT int mymalloc_prof_dump(void) { return mm::prof_dump() ? 0 : -1; }

// mallinfo/mallinfo2 with glibc's layouts.
struct mm_mallinfo2 {
  size_t arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};
struct mm_mallinfo {
  int arena, ordblks, smblks, hblks, hblkhd, usmblks, fsmblks, uordblks, fordblks, keepcost;
};

MM_EXPORT mm_mallinfo2 mallinfo2(void) {
  mm::Stats s = mm::collect_stats();
  GlibcView g = glibc_view(s);
  mm_mallinfo2 m{};
  m.arena = g.arena;
  m.ordblks = g.free_spans;
  m.hblks = s.classes[mm::kClsLarge].fetched - s.classes[mm::kClsLarge].returned;
  m.hblkhd = g.mmapped;
  m.uordblks = g.in_use;
  m.fsmblks = g.fast;
  m.fordblks = g.fast + g.rest;
  m.keepcost = s.page_free - s.page_purged;
  return m;
}

MM_EXPORT mm_mallinfo mallinfo(void) {
  mm_mallinfo2 m2 = mallinfo2();
  mm_mallinfo m{};
  m.arena = static_cast<int>(m2.arena);
  m.ordblks = static_cast<int>(m2.ordblks);
  m.hblks = static_cast<int>(m2.hblks);
  m.hblkhd = static_cast<int>(m2.hblkhd);
  m.uordblks = static_cast<int>(m2.uordblks);
  m.fordblks = static_cast<int>(m2.fordblks);
  m.fsmblks = static_cast<int>(m2.fsmblks);
  m.keepcost = static_cast<int>(m2.keepcost);
  return m;
}
