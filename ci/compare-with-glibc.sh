#!/bin/sh
# Runs a program twice, with the library preloaded and with glibc, and fails when
# the first line it prints (a figure where lower is better) exceeds glibc's times
# the given ratio. Usage: ci/compare-with-glibc.sh <library> <max ratio> <program> [args]
lib=$1
ratio=$2
shift 2
ours=$(LD_PRELOAD=$lib "$@" | head -n 1) || exit 1
theirs=$("$@" | head -n 1) || exit 1
echo "mymalloc $ours, glibc $theirs (bound: $ratio x glibc)"
awk -v a="$ours" -v b="$theirs" -v r="$ratio" 'BEGIN { exit !(a + 0 > 0 && a <= b * r) }'
