// Tunables: one table, read once from MYMALLOC_* environment variables at
// initialisation (getenv does not allocate).
#pragma once
#include "common.h"

namespace mm {

struct Config {
  size_t tcache_bytes = 1 << 20;      // MYMALLOC_TCACHE_BYTES: per-thread cache budget
  size_t medium_max = 128 * 1024;     // MYMALLOC_MEDIUM_MAX: largest medium request
  size_t purge_threshold = 16 << 20;  // MYMALLOC_RELEASE_THRESHOLD: free bytes kept unpurged
  size_t decay_ms = 1000;             // MYMALLOC_DECAY_MS: free pages unused this long are purged
  size_t max_heaps = 0;               // MYMALLOC_MAX_HEAPS: medium heaps (0: 4 per CPU, at least 8)
  size_t stats = 0;  // MYMALLOC_STATS: 1 (text) prints a summary to stderr at exit, 2 (json) JSON
  size_t check = 0;  // MYMALLOC_CHECK: 1 checks every call (frontend/checked.h)
  // The heap profiler (frontend/profile.h).
  size_t prof_sample = 512 * 1024;  // MYMALLOC_PROF_SAMPLE: mean bytes between samples
  size_t prof_signal = 0;           // MYMALLOC_PROF_SIGNAL: a signal that dumps a profile
  size_t leaks = 0;                 // MYMALLOC_LEAKS: 1 reports live samples at exit
  char prof[240] = {};              // MYMALLOC_PROF: the profiles' path prefix ("": off)
};

extern Config g_config;
void config_load();  // idempotent; called from initialisation
// Sets an option at run time (mallopt); false, and nothing changed, when v is out
// of the option's range.
bool config_set(size_t Config::*field, size_t v);
// Calls f with every option's name as MYMALLOC_CONF spells it (tcache_bytes, ...)
// and its value, in the table's order (the statistics print them).
void config_for_each(void (*f)(const char* name, size_t value));

}  // namespace mm
