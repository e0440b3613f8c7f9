#!/bin/sh
# The heap profiler as users meet it: MYMALLOC_PROF=<prefix> writes heap profiles
# that google-pprof reads, MYMALLOC_LEAKS=1 reports at exit.
# Usage: prof.sh <library> <prof program> pprof|leaks|rate|threads|signal|usable
lib=$1
prog=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {  # run PREFIX MODE [VAR=VALUE...]: stdout to $dir/out, stderr to $dir/err
  p=$1 m=$2
  shift 2
  env MYMALLOC_PROF="$dir/$p" "$@" LD_PRELOAD="$lib" "$prog" "$m" >"$dir/out" 2>"$dir/err" ||
    { echo "$prog $m failed:"; cat "$dir/err"; exit 1; }
}
only() {  # the path of the one file in $dir whose name matches an extended regex
  f=$(ls "$dir" | grep -E "$1")
  [ -n "$f" ] && [ "$(echo "$f" | wc -l)" = 1 ] || { echo "expected one file like $1 in: $(ls "$dir")" >&2; exit 1; }
  echo "$dir/$f"
}
# Estimated live bytes of a profile, scaled as pprof scales heap_v2 samples.
estimate() {
  python3 - "$1" <<'EOF'
import math, re, sys
lines = open(sys.argv[1]).read().split("\nMAPPED_LIBRARIES:")[0].splitlines()
period = int(re.search(r"heap_v2/(\d+)", lines[0]).group(1))
total = 0.0
for l in lines[1:]:
    m = re.match(r"\s*(\d+):\s+(\d+)\s+\[", l)
    if m and int(m.group(1)):
        n, s = int(m.group(1)), int(m.group(2))
        total += s / (1 - math.exp(-(s / n) / period))
print(int(total))
EOF
}

case $3 in
pprof)
  command -v google-pprof >/dev/null 2>&1 || { echo "google-pprof missing: skipped"; exit 77; }
  run leak leak MYMALLOC_PROF_SAMPLE=64k
  real=$(cat "$dir/out")
  file=$(only "^leak\.[0-9]+\.heap$") || exit 1
  google-pprof --text "$prog" "$file" >"$dir/text" 2>/dev/null
  cat "$dir/text"
  python3 - "$dir/text" "$real" <<'EOF' || exit 1
import re, sys
text = open(sys.argv[1]).read()
real = int(sys.argv[2])
total = float(re.search(r"Total: ([\d.]+) MB", text).group(1)) * 1048576
leaky = re.search(r"^\s*[\d.]+\s+([\d.]+)%.*\bleaky_function$", text, re.M)
assert leaky, "leaky_function is not in the profile"
assert float(leaky.group(1)) >= 70, "leaky_function has %s%% of the in-use bytes" % leaky.group(1)
assert not re.search(r"\btidy_function$", text, re.M) or "0.0%" in text, "tidy_function holds memory"
assert real / 1.5 <= total <= real * 1.5, "pprof total %d, real leak %d" % (total, real)
print("pprof: total %.1f MB for a real leak of %.1f MB; leaky_function %s%%" % (total / 1048576, real / 1048576, leaky.group(1)))
EOF
  ;;
leaks)
  run leak leak MYMALLOC_LEAKS=1 MYMALLOC_PROF_SAMPLE=64k
  cat "$dir/err"
  grep -q "^mymalloc\[[0-9]*\]: leak report: about [0-9]* bytes still allocated at exit" "$dir/err" ||
    { echo "no leak report"; exit 1; }
  grep -q "#0 leaky_function+0x[0-9a-f]* (" "$dir/err" || { echo "leaky_function not named"; exit 1; }
  grep -q "tidy_function" "$dir/err" && { echo "tidy_function reported"; exit 1; }
  # A program that frees everything: no report at all, also when every allocation
  # is sampled and stdio keeps its buffer.
  env MYMALLOC_LEAKS=1 LD_PRELOAD="$lib" "$prog" threads >/dev/null 2>"$dir/err2"
  [ -s "$dir/err2" ] && { echo "report without a leak:"; cat "$dir/err2"; exit 1; }
  env MYMALLOC_LEAKS=1 MYMALLOC_PROF_SAMPLE=1 LD_PRELOAD="$lib" "$prog" stdio >"$dir/out2" 2>"$dir/err2"
  [ -s "$dir/err2" ] && { echo "report of stdio's buffer:"; cat "$dir/err2"; exit 1; }
  # A leak through the C library (strdup) is the program's.
  env MYMALLOC_LEAKS=1 LD_PRELOAD="$lib" "$prog" strdup >/dev/null 2>"$dir/err2"
  grep -q "#1 strdup_leaker+0x" "$dir/err2" || { echo "strdup's leak not reported:"; cat "$dir/err2"; exit 1; }
  ;;
rate)
  run rate rate MYMALLOC_PROF_SAMPLE=32k
  real=$(cat "$dir/out")
  file=$(only "^rate\.[0-9]+\.0\.heap$") || exit 1
  est=$(estimate "$file") || exit 1
  echo "live $real bytes, estimated $est"
  python3 -c "import sys; r, e = int(sys.argv[1]), int(sys.argv[2]); sys.exit(abs(e - r) > r / 10)" "$real" "$est" ||
    { echo "estimate off by more than 10%"; exit 1; }
  ;;
threads)
  run t threads MYMALLOC_PROF_SAMPLE=64k
  n=$(ls "$dir" | grep -c "^t\..*heap$")
  [ "$n" = 3 ] || { echo "expected 3 profiles (child, dump, exit), got: $(ls "$dir")"; exit 1; }
  for f in "$dir"/t.*.heap; do
    head -1 "$f"
    # ~240 MB allocated and all freed: the samples must be gone with their blocks.
    python3 - "$f" <<'EOF' || exit 1
import re, sys
m = re.match(r"heap profile: (\d+): (\d+) \[ *(\d+): (\d+)\]", open(sys.argv[1]).readline())
live, live_bytes, allocs = int(m.group(1)), int(m.group(2)), int(m.group(3))
assert allocs > 1000, "only %d samples" % allocs
assert live_bytes < 200000, "%d bytes of samples still live after every free" % live_bytes
EOF
  done
  ;;
usable)
  run u usable MYMALLOC_PROF_SAMPLE=1
  head -1 "$(only "^u\.[0-9]+\.heap$")"
  ;;
signal)
  run s signal MYMALLOC_PROF_SIGNAL=SIGUSR2
  only "^s\.[0-9]+\.0\.heap$" >/dev/null && only "^s\.[0-9]+\.heap$" >/dev/null || exit 1
  ;;
*)
  echo "usage: $0 <library> <program> pprof|leaks|rate|threads|signal|usable"
  exit 2
  ;;
esac
echo "prof $3: ok"
