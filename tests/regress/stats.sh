#!/bin/sh
# MYMALLOC_STATS=1 prints a summary to stderr at exit and nothing to stdout.
# Usage: stats.sh <library> <program that writes nothing to stdout>
out=$(MYMALLOC_STATS=1 LD_PRELOAD="$1" "$2" 2>/tmp/mymalloc-stats.$$)
err=$(cat /tmp/mymalloc-stats.$$); rm -f /tmp/mymalloc-stats.$$
echo "$err"
[ -z "$out" ] || { echo "wrote to stdout: $out"; exit 1; }
for k in mapped_bytes in_use_bytes thread_cache_bytes transfer_cache_bytes medium_region_bytes \
         large_bytes page_heap_free_bytes page_heap_released_bytes; do
  echo "$err" | grep -q "^mymalloc: $k [0-9]*$" || { echo "missing $k"; exit 1; }
done
