#!/bin/sh
# make stress: the long versions of the stress programs, with the library preloaded.
# Each verifies its own results; any failure fails the run.
set -e
build=${1:-build}
lib=$(cd "$build" && pwd)/libmymalloc.so
s=$build/stress
cores=$(nproc)
run() { echo "== $*"; LD_PRELOAD=$lib "$@"; }
run "$s/verify_stress" "$cores" 200 50000
run "$s/verify_stress" $((cores * 4)) 50 20000
for t in 1 2 "$cores" $((cores * 2)); do
  run "$s/threadtest" "$t" 200 200000 8 | head -1
  run "$s/threadtest" "$t" 100 50000 200 | head -1
  run "$s/larson" "$t" 10 | head -1
  run "$s/larson" "$t" 5 7 8000 | head -1
done
run "$build/tests/regress/regress_fuzz" $((cores * 2)) 2000000 7
run "$s/realloc_growth" 16 64 | head -1
run "$s/large_churn" 300000 | head -1
run "$s/phases" 200 | head -1
# The debug build, every invariant checked, on the verifying programs.
[ -f "$build/libmymalloc-debug.so" ] && lib=$(cd "$build" && pwd)/libmymalloc-debug.so
run "$s/verify_stress" "$cores" 50 20000
run "$s/realloc_growth" 8 32 | head -1
run "$build/tests/regress/regress_fuzz" "$cores" 300000 8
echo "stress: ok"
