#!/bin/bash
# make bench: every stress/ benchmark with glibc, jemalloc, tcmalloc, mimalloc and
# mymalloc preloaded, allocators alternating between repetitions, at 1, 2, ... up to
# the machine's cores (THREADS="1 2 4 8 16" overrides). Records the median of the
# figure each program prints first and of the peak RSS (GNU time), and writes
# bench-results/summary.md and plots. QUICK=1: fewer repetitions, shorter runs.
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(cd "$build" && pwd)/stress
ours=$(cd "$build" && pwd)/libmymalloc.so
out=$root/bench-results
mkdir -p "$out/raw"
quick=${QUICK:-0}
reps=${REPS:-$([ "$quick" = 1 ] && echo 3 || echo 5)}
cores=$(nproc)
if [ -z "${THREADS:-}" ]; then
  THREADS=1; t=2
  while [ $t -le "$cores" ]; do THREADS="$THREADS $t"; t=$((t * 2)); done
  [ "$cores" -gt 1 ] && [[ " $THREADS " != *" $cores "* ]] && THREADS="$THREADS $cores"
fi

# Peers from Debian packages when missing.
need=""
libdir=/usr/lib/x86_64-linux-gnu
[ -e $libdir/libjemalloc.so.2 ] || need="$need libjemalloc2"
[ -e $libdir/libtcmalloc_minimal.so.4 ] || need="$need libtcmalloc-minimal4"
[ -e $libdir/libmimalloc.so.2 ] || need="$need libmimalloc2.0"
[ -x /usr/bin/time ] || need="$need time"
command -v gnuplot >/dev/null 2>&1 || need="$need gnuplot-nox"
if [ -n "$need" ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bench: installing$need" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >/dev/null 2>&1 ||
      { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $need >/dev/null 2>&1; }
  else
    echo "bench: missing$need; run: sudo apt-get install -y$need" >&2
  fi
fi
declare -A LIB=([glibc]="" [jemalloc]=$libdir/libjemalloc.so.2 [tcmalloc]=$libdir/libtcmalloc_minimal.so.4
                [mimalloc]=$libdir/libmimalloc.so.2 [mymalloc]=$ours)
ALLOCS="glibc jemalloc tcmalloc mimalloc mymalloc"

# name | unit | better | command with %T for threads (single-thread programs ignore it)
if [ "$quick" = 1 ]; then
  PROGRAMS=(
    "threadtest|s|lower|threadtest %T 30 100000 8"
    "threadtest-64B|s|lower|threadtest %T 20 50000 64"
    "larson|ops/s|higher|larson %T 0.5"
    "prodcons|s|lower|prodcons %T 200000 512"
    "cache-thrash|s|lower|false_sharing active %T 5000 500"
    "cache-scratch|s|lower|false_sharing passive %T 5000 500"
    "realloc-mix|s|lower|realloc_mix %T 300"
    "footprint|RSS/live|lower|footprint 100000"
    "churn|s|lower|churn 5000000"
    "larson-1000|ops/s|higher|larson %T 0.5 8 1000"
    "large-churn|s|lower|large_churn 30000"
    "realloc-growth|s|lower|realloc_growth 4 16"
    "malloc-large|s|lower|malloc_large 500"
    "perl|s|lower|perl_workload.sh 100000"
    "redis-set|req/s|higher|redis_workload.sh set"
    "redis-get|req/s|higher|redis_workload.sh get"
    "phases|RSS/live|lower|phases 50 300"
  )
else
  PROGRAMS=(
    "threadtest|s|lower|threadtest %T 100 100000 8"
    "threadtest-64B|s|lower|threadtest %T 50 100000 64"
    "larson|ops/s|higher|larson %T 3"
    "prodcons|s|lower|prodcons %T 2000000 512"
    "cache-thrash|s|lower|false_sharing active %T 20000 1000"
    "cache-scratch|s|lower|false_sharing passive %T 20000 1000"
    "realloc-mix|s|lower|realloc_mix %T 2000"
    "footprint|RSS/live|lower|footprint 400000"
    "churn|s|lower|churn 30000000"
    "larson-1000|ops/s|higher|larson %T 3 8 1000"
    "large-churn|s|lower|large_churn 100000"
    "realloc-growth|s|lower|realloc_growth 8 32"
    "malloc-large|s|lower|malloc_large 2000"
    "perl-300k|s|lower|perl_workload.sh 300000"
    "perl-600k|s|lower|perl_workload.sh 600000"
    "redis-set|req/s|higher|redis_workload.sh set"
    "redis-get|req/s|higher|redis_workload.sh get"
    "phases|RSS/live|lower|phases 100 1100"
  )
fi

median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "-"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

raw=$out/raw/results.tsv
: > "$raw"
total=0
for p in "${PROGRAMS[@]}"; do
  IFS='|' read -r name unit better cmd <<< "$p"
  threads=$THREADS
  [[ "$cmd" == *%T* ]] || threads=1
  for t in $threads; do
    c=${cmd//%T/$t}
    for r in $(seq "$reps"); do
      for a in $ALLOCS; do  # alternate allocators within each repetition
        tf=$(mktemp)
        v=$(env ${LIB[$a]:+LD_PRELOAD=${LIB[$a]}} /usr/bin/time -f "%M" -o "$tf" $bin/$c 2>/dev/null | head -n 1)
        rss=$(tail -n 1 "$tf"); rm -f "$tf"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$t" "$a" "$r" "${v:--}" "${rss:--}" >> "$raw"
        printf 'bench: %-15s threads=%-3s rep=%s %-9s %s %s, peak RSS %s KiB\n' "$name" "$t" "$r" "$a" "${v:--}" "$unit" "${rss:--}"
        total=$((total + 1))
      done
    done
  done
done

# summary.md: one table per program, medians, ratio of each allocator to mymalloc.
sum=$out/summary.md
{
  echo "# Benchmarks"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME"), $(uname -r)."
  echo "Taken $(date -u +%Y-%m-%d) by \`make bench$([ "$quick" = 1 ] && echo ' QUICK=1')\`; median of $reps runs, allocators alternating."
  echo "Ratio = allocator / mymalloc; for a 'lower is better' figure a ratio above 1 means mymalloc is ahead, for 'higher is better' below 1."
  for p in "${PROGRAMS[@]}"; do
    IFS='|' read -r name unit better cmd <<< "$p"
    echo
    echo "## $name ($unit, $better is better)"
    echo
    echo "\`${cmd//%T/T}\`"
    echo
    echo "| threads | $(echo $ALLOCS | sed 's/ / | /g') | peak RSS KiB (glibc / mymalloc) |"
    echo "|---|$(for a in $ALLOCS; do printf -- '---|'; done)---|"
    for t in $(awk -F'\t' -v n="$name" '$1 == n {print $2}' "$raw" | sort -n | uniq); do
      declare -A med=()
      for a in $ALLOCS; do
        med[$a]=$(awk -F'\t' -v n="$name" -v t="$t" -v a="$a" '$1 == n && $2 == t && $3 == a {print $5}' "$raw" | grep -v '^-$' | median)
      done
      row="| $t |"
      for a in $ALLOCS; do
        ratio=$(awk -v x="${med[$a]}" -v m="${med[mymalloc]}" 'BEGIN {if (m + 0 > 0 && x != "-") printf "%.2f", x / m; else print "-"}')
        row="$row ${med[$a]} ($ratio) |"
      done
      rg=$(awk -F'\t' -v n="$name" -v t="$t" '$1 == n && $2 == t && $3 == "glibc" {print $6}' "$raw" | median)
      rm_=$(awk -F'\t' -v n="$name" -v t="$t" '$1 == n && $2 == t && $3 == "mymalloc" {print $6}' "$raw" | median)
      echo "$row $rg / $rm_ |"
      for a in $ALLOCS; do
        rss=$(awk -F'\t' -v n="$name" -v t="$t" -v a="$a" '$1 == n && $2 == t && $3 == a {print $6}' "$raw" | median)
        printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$t" "$a" "${med[$a]}" "$rss" >> "$out/raw/medians.tsv.new"
      done
    done
  done
} > "$sum"
mv "$out/raw/medians.tsv.new" "$out/raw/medians.tsv"
echo "bench: $total runs; wrote $sum"

# Plots: speed against threads for the multi-threaded programs, and peak RSS.
if command -v gnuplot >/dev/null 2>&1; then
  for p in "${PROGRAMS[@]}"; do
    IFS='|' read -r name unit better cmd <<< "$p"
    [[ "$cmd" == *%T* ]] || continue
    for a in $ALLOCS; do
      awk -F'\t' -v n="$name" -v a="$a" -v b="$better" '$1 == n && $3 == a && $4 != "-" {print $2, (b == "lower" ? 1 / $4 : $4)}' \
        "$out/raw/medians.tsv" | sort -n > "$out/raw/plot-$name-$a.dat"
    done
  done
  awk -F'\t' '$2 == 1' "$out/raw/medians.tsv" > "$out/raw/rss.dat"
  gnuplot <<GP 2>/dev/null
set terminal pngcairo size 1400,900 noenhanced
set output "$out/throughput.png"
set multiplot layout 2,3 title "Speed (1/seconds or ops/s, higher is better) against threads"
set key left top
$(for p in "${PROGRAMS[@]}"; do IFS='|' read -r name unit better cmd <<< "$p"; [[ "$cmd" == *%T* ]] || continue
  echo "set title '$name'"; echo "set xlabel 'threads'"
  printf 'plot '; sep=""
  for a in $ALLOCS; do printf '%s"%s" using 1:2 with linespoints title "%s"' "$sep" "$out/raw/plot-$name-$a.dat" "$a"; sep=", "; done
  echo; done | head -n 18)
unset multiplot
set output "$out/peak-rss.png"
set terminal pngcairo size 1400,600 noenhanced
set title "Peak RSS (KiB) at 1 thread, lower is better"
set style data histograms
set style fill solid
set xtics rotate by -30
set key left top
plot "< awk -F'\t' '\$3 == \"glibc\"' $out/raw/rss.dat" using 5:xtic(1) title "glibc", \
     "< awk -F'\t' '\$3 == \"jemalloc\"' $out/raw/rss.dat" using 5 title "jemalloc", \
     "< awk -F'\t' '\$3 == \"tcmalloc\"' $out/raw/rss.dat" using 5 title "tcmalloc", \
     "< awk -F'\t' '\$3 == \"mimalloc\"' $out/raw/rss.dat" using 5 title "mimalloc", \
     "< awk -F'\t' '\$3 == \"mymalloc\"' $out/raw/rss.dat" using 5 title "mymalloc"
GP
  echo "bench: plots in $out/throughput.png and $out/peak-rss.png"

  # RSS over time of the phase-changing server, one run per allocator.
  for a in $ALLOCS; do
    env ${LIB[$a]:+LD_PRELOAD=${LIB[$a]}} $bin/phases 100 $([ "$quick" = 1 ] && echo 300 || echo 1100) \
      "$out/raw/rss-time-$a.dat" >/dev/null 2>&1
  done
  gnuplot <<GP 2>/dev/null
set terminal pngcairo size 1200,650 noenhanced
set output "$out/rss-over-time.png"
set title "Server changing phases (stress/phases): resident memory over time, lower is better"
set xlabel "seconds"
set ylabel "MiB"
set key left top
plot $(for a in $ALLOCS; do style='lw 1.5'; [ $a = mymalloc ] && style='lw 3 lc rgb "red"'
  printf '"%s" using ($1/1000):2 with lines %s title "%s", ' "$out/raw/rss-time-$a.dat" "$style" "$a"; done) \
     "$out/raw/rss-time-mymalloc.dat" using (\$1/1000):3 with lines dt 2 lc rgb "black" title "live bytes"
GP
  echo "bench: RSS over time in $out/rss-over-time.png"
fi
