#!/bin/sh
# Configuration is strict and says what it does: a value that is not a size (or
# does not fit in 64 bits) is ignored with a message, one out of range is clamped
# with a message naming the value used, and nothing goes to stdout; MYMALLOC_CONF
# sets options by name.
# Usage: config.sh <library> <program that writes nothing to stdout>
lib=$1
prog=$2
check() {  # check ENV=VALUE expected-stderr-line
  out=$(env "$1" LD_PRELOAD="$lib" "$prog" 2>/tmp/mymalloc-config.$$)
  err=$(cat /tmp/mymalloc-config.$$)
  rm -f /tmp/mymalloc-config.$$
  [ -z "$out" ] || { echo "$1: wrote to stdout: $out"; exit 1; }
  echo "$err" | grep -qx "$2" || { echo "$1: expected '$2', got '$err'"; exit 1; }
}
check MYMALLOC_TCACHE_BYTES=18446744073709551616 "mymalloc: MYMALLOC_TCACHE_BYTES=18446744073709551616 is not a size, using 1048576"
check MYMALLOC_TCACHE_BYTES=20000000000g "mymalloc: MYMALLOC_TCACHE_BYTES=20000000000g is not a size, using 1048576"
check MYMALLOC_TCACHE_BYTES=99g "mymalloc: MYMALLOC_TCACHE_BYTES=99g out of range, using 1073741824"
check MYMALLOC_MAX_HEAPS=5000 "mymalloc: MYMALLOC_MAX_HEAPS=5000 out of range, using 1024"
check MYMALLOC_DECAY_MS=soon "mymalloc: MYMALLOC_DECAY_MS=soon is not a size, using 1000"
check MYMALLOC_STATS=loud "mymalloc: MYMALLOC_STATS=loud is not a number or a name of a value, using 0"
check MYMALLOC_PROF_SIGNAL=SIGFOO "mymalloc: MYMALLOC_PROF_SIGNAL=SIGFOO is not a number or a name of a value, using 0"
check MYMALLOC_CONF=decay_ms=5,colour=blue "mymalloc: MYMALLOC_CONF: ignoring unknown option colour=blue"
check MYMALLOC_CONF=TCACHE_BYTES:12x "mymalloc: TCACHE_BYTES=12x is not a size, using 1048576"
# MYMALLOC_CONF sets options by name; a variable of its own overrides it.
opts=$(MYMALLOC_STATS=1 MYMALLOC_CONF="tcache_bytes:64k,decay_ms=0" MYMALLOC_DECAY_MS=7 LD_PRELOAD="$lib" "$prog" 2>&1 >/dev/null | grep " version ")
echo "$opts" | grep -q "tcache_bytes=65536 .*decay_ms=7 " || { echo "MYMALLOC_CONF: got '$opts'"; exit 1; }
# Signals by name, strings (the profile prefix) in MYMALLOC_CONF too.
opts=$(MYMALLOC_STATS=1 MYMALLOC_CONF="prof_signal:SIGUSR2,prof_sample:64k" LD_PRELOAD="$lib" "$prog" 2>&1 >/dev/null | grep " version ")
echo "$opts" | grep -q "prof_sample=65536 prof_signal=12 " || { echo "MYMALLOC_CONF: got '$opts'"; exit 1; }
dir=$(mktemp -d)
MYMALLOC_CONF="prof:$dir/conf" LD_PRELOAD="$lib" "$prog" >/dev/null 2>&1
ls "$dir" | grep -q "^conf\.[0-9]*\.heap$" || { echo "MYMALLOC_CONF=prof:...: no profile in $dir"; rm -rf "$dir"; exit 1; }
rm -rf "$dir"
echo "config: ok"
