#!/bin/sh
# VmData at the start of main with the library preloaded, against glibc alone.
# RLIMIT_DATA charges every private writable mapping, so a preloaded allocator must
# not start with a big one. Usage: ci/check-vmdata.sh <vmdata_at_main> <library> <max KiB>
glibc=$("$1")
ours=$(LD_PRELOAD="$2" "$1")
delta=$((ours - glibc))
echo "VmData at main: glibc ${glibc} KiB, mymalloc ${ours} KiB, delta ${delta} KiB (bound $3)"
[ "$delta" -le "$3" ]
