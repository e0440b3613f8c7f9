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
    {"MYMALLOC_STATS", &Config::stats, 0, 2},
    {"MYMALLOC_CHECK", &Config::check, 0, 1},
};

// Decimal with an optional k/m/g suffix; false on anything else, and on a value
// that does not fit in 64 bits (it used to wrap: 18446744073709551616 read as 0).
bool parse_size(const char* s, size_t* out) {
  if (!*s) return false;
  size_t v = 0;
  for (; *s >= '0' && *s <= '9'; ++s)
    if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, *s - '0', &v)) return false;
  int shift = 0;
  switch (*s) {
    case 'k':
    case 'K':
      shift = 10;
      ++s;
      break;
    case 'm':
    case 'M':
      shift = 20;
      ++s;
      break;
    case 'g':
    case 'G':
      shift = 30;
      ++s;
      break;
    default:
      break;
  }
  if (*s || (shift && v > (~size_t{0} >> shift))) return false;
  v <<= shift;
  *out = v;
  return true;
}
}  // namespace

void config_load() {
  for (const Tunable& t : kTunables) {
    // secure_getenv: a setuid or setgid program ignores the environment.
    const char* s = secure_getenv(t.env);
    if (!s) continue;
    size_t v;
    if (!parse_size(s, &v)) {
      write_err("mymalloc: ignoring ");
      write_err(t.env);
      write_err(": not a size\n");
      continue;
    }
    size_t used = v < t.min ? t.min : (v > t.max ? t.max : v);
    if (used != v) {  // said, not clamped in silence
      write_err("mymalloc: ");
      write_err(t.env);
      write_err(" out of range, using ");
      write_err_num(used);
      write_err("\n");
    }
    g_config.*t.field = used;
  }
  g_config.medium_max = align_up(g_config.medium_max, 16);
  if (g_config.check) g_config.tcache_bytes = 0;  // every call reaches the checked paths
}

}  // namespace mm
