#include "config.h"

#include <stdlib.h>

namespace mm {

constinit Config g_config;

namespace {
struct Tunable {
  const char* env;
  size_t Config::*field;
  size_t min, max;
};
constexpr Tunable kTunables[] = {
    {"MYMALLOC_TCACHE_BYTES", &Config::tcache_bytes, 0, size_t{1} << 30},
    {"MYMALLOC_MEDIUM_MAX", &Config::medium_max, kCachedMax, 16 << 20},
    {"MYMALLOC_RELEASE_THRESHOLD", &Config::purge_threshold, 0, ~size_t{0}},
    {"MYMALLOC_DECAY_MS", &Config::decay_ms, 0, 3600 * 1000},
    {"MYMALLOC_MAX_HEAPS", &Config::max_heaps, 0, 1024},
    {"MYMALLOC_STATS", &Config::stats, 0, 1},
    {"MYMALLOC_CHECK", &Config::check, 0, 1},
};

// Decimal with an optional k/m/g suffix; false on anything else.
bool parse_size(const char* s, size_t* out) {
  if (!*s) return false;
  size_t v = 0;
  for (; *s >= '0' && *s <= '9'; ++s) v = v * 10 + static_cast<size_t>(*s - '0');
  switch (*s) {
    case 'k':
    case 'K':
      v <<= 10;
      ++s;
      break;
    case 'm':
    case 'M':
      v <<= 20;
      ++s;
      break;
    case 'g':
    case 'G':
      v <<= 30;
      ++s;
      break;
    default:
      break;
  }
  if (*s) return false;
  *out = v;
  return true;
}
}  // namespace

void config_load() {
  for (const Tunable& t : kTunables) {
    const char* s = getenv(t.env);
    if (!s) continue;
    size_t v;
    if (!parse_size(s, &v)) {
      write_err("mymalloc: ignoring ");
      write_err(t.env);
      write_err(": not a size\n");
      continue;
    }
    g_config.*t.field = v < t.min ? t.min : (v > t.max ? t.max : v);
  }
  g_config.medium_max = align_up(g_config.medium_max, 16);
  if (g_config.check) g_config.tcache_bytes = 0;  // every call reaches the checked paths
}

}  // namespace mm
