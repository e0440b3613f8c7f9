#include "config.h"

#include <stdlib.h>

namespace mm {

constinit Config g_config;

namespace {
struct Tunable {
  const char* env;
  size_t Config::*field;
  size_t min, max;
  const char* const* words = nullptr;   // names of the values 0, 1, ... (nullptr-ended)
  char (Config::*text)[240] = nullptr;  // a string option instead (field unused)
};
constexpr const char* kStatsWords[] = {"off", "text", "json", nullptr};
constexpr const char* kOnOff[] = {"off", "on", nullptr};
// Linux's signal numbers on x86-64 and arm64.
constexpr const char* kSignals[] = {
    "none",     "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",  "SIGTRAP",   "SIGABRT",
    "SIGBUS",   "SIGFPE",  "SIGKILL",   "SIGUSR1", "SIGSEGV", "SIGUSR2",   "SIGPIPE",
    "SIGALRM",  "SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP",   "SIGTSTP",
    "SIGTTIN",  "SIGTTOU", "SIGURG",    "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF",
    "SIGWINCH", "SIGIO",   "SIGPWR",    "SIGSYS",  nullptr};
constexpr Tunable kTunables[] = {
    {"MYMALLOC_TCACHE_BYTES", &Config::tcache_bytes, 0, size_t{1} << 30},
    {"MYMALLOC_MEDIUM_MAX", &Config::medium_max, kCachedMax, 16 << 20},
    {"MYMALLOC_RELEASE_THRESHOLD", &Config::purge_threshold, 0, ~size_t{0}},
    {"MYMALLOC_DECAY_MS", &Config::decay_ms, 0, 3600 * 1000},
    {"MYMALLOC_MAX_HEAPS", &Config::max_heaps, 0, 1024},
    {"MYMALLOC_STATS", &Config::stats, 0, 2, kStatsWords},
    {"MYMALLOC_CHECK", &Config::check, 0, 1, kOnOff},
    {"MYMALLOC_PROF", nullptr, 0, 0, nullptr, &Config::prof},
    {"MYMALLOC_PROF_SAMPLE", &Config::prof_sample, 1, size_t{1} << 40},
    {"MYMALLOC_PROF_SIGNAL", &Config::prof_signal, 0, 64, kSignals},
    {"MYMALLOC_LEAKS", &Config::leaks, 0, 1, kOnOff},
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

namespace {
// Sets t from the text s (name: the variable or key as the user wrote it). A value
// that is not one, or out of range, is said in one line: name, value, what is used.
void apply(const Tunable& t, const char* s, size_t len, const char* name, size_t name_len) {
  if (t.text) {  // a path: kept as it is, if it fits
    char(&dst)[240] = g_config.*t.text;
    if (len < sizeof dst) {
      __builtin_memcpy(dst, s, len);
      dst[len] = 0;
    } else {
      Out(2).str("mymalloc: ").str_n(name, name_len).str(" is longer than 239 bytes, ignored\n");
    }
    return;
  }
  char buf[32];
  size_t v;
  bool ok = len < sizeof buf;
  if (ok) {
    __builtin_memcpy(buf, s, len);
    buf[len] = 0;
    ok = parse_size(buf, &v);
    for (size_t i = 0; !ok && t.words && t.words[i]; ++i)
      if (__builtin_strcmp(buf, t.words[i]) == 0) {
        v = i;
        ok = true;
      }
  }
  size_t used = !ok ? g_config.*t.field : v < t.min ? t.min : (v > t.max ? t.max : v);
  if (!ok || used != v) {  // said, not clamped in silence
    Out err(2);
    err.str("mymalloc: ").str_n(name, name_len).str("=").str_n(s, len);
    err.str(ok        ? " out of range"
            : t.words ? " is not a number or a name of a value"
                      : " is not a size");
    err.str(", using ").num(used).str("\n");
  }
  g_config.*t.field = used;
}

}  // namespace

void config_load() {
  // secure_getenv: a setuid or setgid program ignores the environment.
  // MYMALLOC_CONF="name:value,..." (names are the variables' without MYMALLOC_,
  // in any case; '=' also separates, as jemalloc's MALLOC_CONF and GLIBC_TUNABLES
  // spell it) first; a MYMALLOC_* variable of its own overrides it.
  if (const char* conf = secure_getenv("MYMALLOC_CONF")) {
    for (const char* p = conf; *p;) {
      const char* end = p;
      while (*end && *end != ',') ++end;
      const char* eq = p;
      while (eq < end && *eq != '=' && *eq != ':') ++eq;
      const Tunable* hit = nullptr;
      for (const Tunable& t : kTunables) {
        const char* n = t.env + 9;  // past "MYMALLOC_"
        size_t k = 0;
        while (p + k < eq && n[k] && (p[k] | 0x20) == (n[k] | 0x20)) ++k;
        if (p + k == eq && !n[k]) hit = &t;
      }
      if (hit && eq < end) {
        apply(*hit, eq + 1, static_cast<size_t>(end - eq - 1), p, static_cast<size_t>(eq - p));
      } else if (end > p) {
        write_err("mymalloc: MYMALLOC_CONF: ignoring unknown option ");
        write_err_n(p, static_cast<size_t>(end - p));
        write_err("\n");
      }
      p = *end ? end + 1 : end;
    }
  }
  for (const Tunable& t : kTunables)
    if (const char* s = secure_getenv(t.env))
      apply(t, s, __builtin_strlen(s), t.env, __builtin_strlen(t.env));
  config_set(&Config::medium_max, g_config.medium_max);  // rounded up to 16
  if (g_config.check) g_config.tcache_bytes = 0;         // every call reaches the checked paths
}

bool config_set(size_t Config::*field, size_t v) {
  for (const Tunable& t : kTunables) {
    if (t.text || t.field != field) continue;
    if (v < t.min || v > t.max) return false;
    if (field == &Config::medium_max) v = align_up(v, 16);
    __atomic_store_n(&(g_config.*field), v, __ATOMIC_RELAXED);
    return true;
  }
  return false;
}

void config_for_each(void (*f)(const char* name, size_t value)) {
  for (const Tunable& t : kTunables) {
    if (t.text) continue;  // not a number: MYMALLOC_PROF is not listed
    char name[32];
    size_t k = 0;
    for (const char* n = t.env + 9; *n && k + 1 < sizeof name; ++n)
      name[k++] = *n >= 'A' && *n <= 'Z' ? static_cast<char>(*n | 0x20) : *n;
    name[k] = 0;
    f(name, g_config.*t.field);
  }
}

}  // namespace mm
