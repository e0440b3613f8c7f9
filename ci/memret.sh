#!/bin/bash
# The memory-return scenarios (tests/regress/memory_return.c) under the five
# allocators, side by side: the figure each prints. Usage: ci/memret.sh [build]
build=${1:-build}
prog=$build/tests/regress/regress_memory_return
libdir=/usr/lib/x86_64-linux-gnu
declare -A LIB=([glibc]="" [jemalloc]=$libdir/libjemalloc.so.2 [tcmalloc]=$libdir/libtcmalloc_minimal.so.4
                [mimalloc]=$libdir/libmimalloc.so.2 [mymalloc]=$(cd "$build" && pwd)/libmymalloc.so)
ALLOCS="glibc jemalloc tcmalloc mimalloc mymalloc"
cases=("pinned_64k|served_of_8" "pinned_64k_1m|served_of_8" "pinned_4000|served_of_8"
       "pinned_threads|served_of_8" "threads_after_free|threads_created_of_2"
       "reuse_16k_64|rss_over_live_pct" "reuse_16k_200k|rss_over_live_pct"
       "exited_threads|kept_after_exit_mb")
for s in 64 2000 16384 100000 1048576; do
  cases+=("back_to_os $s|growth_2s_later_mb" "back_to_os $s|growth_after_trim_mb")
done
printf '| scenario | figure | %s |\n|---|---|%s\n' "$(echo $ALLOCS | sed 's/ / | /g')" "$(for a in $ALLOCS; do printf -- '---|'; done)"
for c in "${cases[@]}"; do
  IFS='|' read -r args key <<< "$c"
  row="| $args | $key |"
  for a in $ALLOCS; do
    v=$(env ${LIB[$a]:+LD_PRELOAD=${LIB[$a]}} timeout 120 $prog $args 2>&1 | sed -n "s/^$key=//p")
    row="$row ${v:-fail} |"
  done
  echo "$row"
done
