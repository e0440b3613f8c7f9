#!/bin/sh
# Memory of a producer/consumer pair (stress/prodcons: every block freed by a thread
# that did not allocate it): the consumer's freed objects must find their way back
# to the producer, not pile up in transfer caches while the producer carves new
# slabs. Peak RSS at most twice glibc's plus 2 MiB (two thread caches); it was
# 25 MB against glibc's 2.9 when the producer took batches back only from a shard
# three quarters full (issue 15, docs/architecture.md).
# Usage: prodcons_rss.sh <libmymalloc.so> <prodcons> [blocks]
lib=$1 prog=$2 blocks=${3:-500000}
rss() { awk '/^peak RSS KiB/ {print $4}'; }
g=$("$prog" 1 "$blocks" 512 2>&1 >/dev/null | rss)
m=$(LD_PRELOAD="$lib" "$prog" 1 "$blocks" 512 2>&1 >/dev/null | rss)
echo "peak RSS KiB, prodcons 1 pair $blocks blocks: glibc $g, mymalloc $m"
[ -n "$g" ] && [ -n "$m" ] || { echo "no figure"; exit 1; }
[ "$m" -le $((2 * g + 2048)) ] || { echo "mymalloc keeps more than twice glibc's + 2 MiB"; exit 1; }
