#!/bin/sh
# MYMALLOC_STATS=1 prints a summary to stderr at exit and nothing to stdout, every
# line naming the process, the first the version and the options; =2 prints it as
# one JSON object.
# Usage: stats.sh <library> <program that writes nothing to stdout>
out=$(MYMALLOC_STATS=1 LD_PRELOAD="$1" "$2" 2>/tmp/mymalloc-stats.$$)
err=$(cat /tmp/mymalloc-stats.$$); rm -f /tmp/mymalloc-stats.$$
echo "$err"
[ -z "$out" ] || { echo "wrote to stdout: $out"; exit 1; }
for k in mapped_bytes in_use_bytes thread_cache_bytes transfer_cache_bytes medium_region_bytes \
         large_bytes page_heap_free_bytes page_heap_released_bytes; do
  echo "$err" | grep -q "^mymalloc\[[0-9]*\]: $k [0-9]*$" || { echo "missing $k"; exit 1; }
done
echo "$err" | grep -q "^mymalloc\[[0-9]*\]: version [0-9.]* tcache_bytes=[0-9]* .*check=[01]$" ||
  { echo "missing the version and options line"; exit 1; }
json=$(MYMALLOC_STATS=2 LD_PRELOAD="$1" "$2" 2>&1 >/dev/null | grep "^{\"mymalloc\"")
echo "$json" | python3 -c 'import json, sys; d = json.load(sys.stdin)["mymalloc"]; assert d["pid"] > 0 and d["stats"]["mapped_bytes"] > 0 and "tcache_bytes" in d["options"]' ||
  { echo "MYMALLOC_STATS=2: not the JSON expected: $json"; exit 1; }
echo "stats: ok"
