#!/bin/sh
# MYMALLOC_STATS=1 prints a summary to stderr at exit and nothing to stdout, every
# line naming the process, the first the program, the version and the options,
# then the tiers, peaks, contention and counts per size class; =json (or 2) prints
# it as one JSON object.
# Usage: stats.sh <library> <program that writes nothing to stdout>
out=$(MYMALLOC_STATS=1 LD_PRELOAD="$1" "$2" 2>/tmp/mymalloc-stats.$$)
err=$(cat /tmp/mymalloc-stats.$$); rm -f /tmp/mymalloc-stats.$$
echo "$err"
[ -z "$out" ] || { echo "wrote to stdout: $out"; exit 1; }
for k in mapped_bytes in_use_bytes thread_cache_bytes transfer_cache_bytes medium_region_bytes \
         large_bytes page_heap_free_bytes page_heap_released_bytes peak_mapped_bytes \
         peak_active_bytes lock_waits lock_sleeps transfer_retries; do
  echo "$err" | grep -q "^mymalloc\[[0-9]*\]: $k [0-9]*$" || { echo "missing $k"; exit 1; }
done
prog=$(basename "$2")
echo "$err" | grep -q "^mymalloc\[[0-9]*\]: program $prog version [0-9.]* tcache_bytes=[0-9]* .*check=[01] prof_sample=[0-9]* prof_signal=[0-9]* leaks=[01]$" ||
  { echo "missing the program, version and options line"; exit 1; }
echo "$err" | grep -q "^mymalloc\[[0-9]*\]: class 16 fetched [0-9]* returned [0-9]* cached [0-9]*$" ||
  { echo "missing the counts of class 16"; exit 1; }
# api's loop of 2000 blocks of 19.4..20 KB: one class, served by the thread cache.
fetched=$(echo "$err" | sed -n 's/^mymalloc\[[0-9]*\]: class 20480 fetched \([0-9]*\) .*/\1/p')
[ -n "$fetched" ] && [ "$fetched" -le 4 ] ||
  { echo "class 20480: fetched ${fetched:-nothing} from the heap for 2000 allocations"; exit 1; }
for v in json 2; do
  json=$(MYMALLOC_STATS=$v LD_PRELOAD="$1" "$2" 2>&1 >/dev/null | grep "^{\"mymalloc\"")
  echo "$json" | python3 -c '
import json, sys
d = json.load(sys.stdin)["mymalloc"]
assert d["pid"] > 0 and d["program"] == sys.argv[1] and "tcache_bytes" in d["options"]
s = d["stats"]
assert s["mapped_bytes"] > 0 and s["peak_mapped_bytes"] >= s["mapped_bytes"] - s["page_heap_released_bytes"]
assert s["peak_active_bytes"] > 0 and set(d["contention"]) == {"lock_waits", "lock_sleeps", "transfer_retries"}
sizes = [c["size"] for c in d["classes"]]
assert sizes[0] == 16 and sizes[-2:] == ["medium", "large"], sizes
for c in d["classes"]:  # at exit, with one thread: nothing cached or given back that was not fetched
    assert c["fetched"] >= c["returned"] + c["cached"], c
assert sum(c["fetched"] for c in d["classes"]) > 0
' "$prog" || { echo "MYMALLOC_STATS=$v: not the JSON expected: $json"; exit 1; }
done
echo "stats: ok"
