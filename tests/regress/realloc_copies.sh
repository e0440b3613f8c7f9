#!/bin/sh
# Issue 15's target for realloc growth: on the perl workload (stress/), the bytes
# mymalloc's realloc copies are at most glibc's + 20%. glibc's are the old sizes
# of the blocks it moved that were not mmapped (those it moves with mremap);
# mymalloc's are what its realloc passed to memcpy (pages moved with mremap are
# not copied). Skipped (77) without perl.
# Usage: realloc_copies.sh <libmymalloc.so> <realloc_copies.so> <perl_workload.pl> [keys]
command -v perl >/dev/null 2>&1 || { echo "perl missing: skipped"; exit 77; }
lib=$1 shim=$2 pl=$3 keys=${4:-100000}
count() {  # prints the field named $1 of the shim's line
  awk -v f="$1" '/^realloc_copies:/ {for (i = 2; i < NF; i += 2) if ($i == f) print $(i + 1)}'
}
g=$(RC_GLIBC=1 LD_PRELOAD="$shim libc.so.6" perl "$pl" "$keys" 2>&1 >/dev/null | count unmapped)
m=$(LD_PRELOAD="$shim $lib" perl "$pl" "$keys" 2>&1 >/dev/null | count memcpy)
echo "realloc bytes copied, perl workload $keys keys: glibc $g, mymalloc $m"
[ -n "$g" ] && [ -n "$m" ] || { echo "no count"; exit 1; }
[ "$g" -gt 0 ] || { echo "glibc copied nothing: the count is broken"; exit 1; }
[ "$m" -le $((g + g / 5)) ] || { echo "mymalloc copies more than glibc + 20%"; exit 1; }
