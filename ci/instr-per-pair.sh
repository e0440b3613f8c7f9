#!/bin/sh
# Instructions per malloc+free pair on the fast path, counted by callgrind:
# (I(2N) - I(N)) / N for the fastpath loop, with the given library preloaded
# (empty: glibc). Usage: ci/instr-per-pair.sh <fastpath binary> [library]
set -e
bin=$1
lib=${2:-}
total() {
  out=$(mktemp)
  if [ -n "$lib" ]; then
    LD_PRELOAD=$lib valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" >/dev/null 2>&1
  else
    valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" "$1" >/dev/null 2>&1
  fi
  grep -E '^(summary|totals):' "$out" | head -1 | awk '{print $2}'
  rm -f "$out"
}
n=200000
a=$(total $n)
b=$(total $((2 * n)))
echo "$(( (b - a) / n ))"
