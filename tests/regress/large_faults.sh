#!/bin/sh
# Issue 15's target for large blocks: on stress/malloc_large (blocks of 5..25 MiB
# replaced at random, every page written), no more page faults than the reference
# allocator, here glibc (tcmalloc, the reference, is not a test
# dependency; it faults less than glibc, and mymalloc less than both). Purging
# the spans it freed made mymalloc fault every page in again: 392k faults in 200
# steps against glibc's 167k where a fault costs 15 us.
# Usage: large_faults.sh <libmymalloc.so> <malloc_large> [steps]
lib=$1 prog=$2 steps=${3:-200}
faults() { awk '/^page faults/ {print $3}'; }
g=$("$prog" "$steps" | faults)
m=$(LD_PRELOAD="$lib" "$prog" "$steps" | faults)
echo "page faults, malloc_large $steps steps: glibc $g, mymalloc $m"
[ -n "$g" ] && [ -n "$m" ] || { echo "no count"; exit 1; }
[ "$m" -le "$g" ] || { echo "mymalloc faults more than glibc"; exit 1; }
