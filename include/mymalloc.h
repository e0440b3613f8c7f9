/* mymalloc public extension API. The standard allocation functions are the
 * usual ones from <stdlib.h> and <malloc.h>; this header adds what is ours. */
#ifndef MYMALLOC_H
#define MYMALLOC_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MYMALLOC_VERSION "0.1.0"

/* Writes a summary of the allocator's state to stderr (never stdout). */
void mymalloc_stats(void);

/* Writes the same as one JSON object on one line (what MYMALLOC_STATS=json prints
 * at exit) to the file descriptor fd: pid, program, version, options, bytes per
 * tier, peaks, contention counters and counts per size class. */
void mymalloc_stats_json(int fd);

/* Flushes this thread's cache, returns empty slabs and regions to the page heap
 * and gives all free pages back to the OS. Returns the bytes released. */
size_t mymalloc_release_free_memory(void);

/* With heap profiling on (MYMALLOC_PROF=<prefix>), writes the sampled heap as
 * <prefix>.<pid>.<seq>.heap, a profile google-pprof reads. Returns 0, or -1 when
 * profiling is off or the file cannot be written. */
int mymalloc_prof_dump(void);

#ifdef __cplusplus
}
#endif
#endif
