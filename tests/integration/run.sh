#!/bin/sh
# Real programs with and without the preload: the same result is required.
# Usage: run.sh <name> <libmymalloc.so> [prodcons binary]
# Prints wall seconds and peak RSS of both runs (GNU time) for the record.
set -u
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
name=$1
lib=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1

workload() {
  shift 2
  case "$name" in
    python)
      PYTHONMALLOC=malloc python3 -c '
import hashlib, json, random
random.seed(7)
d = {}
for i in range(300000):
    d["k%d" % i] = [random.random() for _ in range(i % 7)]
s = sorted(d.items(), key=lambda kv: (len(kv[1]), kv[0]))
blob = json.dumps(s[:50000])
words = " ".join("w%d" % (i * 7919 % 100003) for i in range(200000)).split()
print(len(d), len(blob), hashlib.sha256(blob.encode()).hexdigest(), len(set(words)))
' ;;
    sqlite)
      sqlite3 ":memory:" "
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000)
  INSERT INTO t SELECT x, 'name-' || (x * 7919 % 100003), (x % 977) * 1.5 FROM c;
CREATE INDEX t_name ON t(name);
SELECT count(*), sum(v), count(DISTINCT name) FROM t;
SELECT name, count(*) FROM t GROUP BY name ORDER BY count(*) DESC, name LIMIT 3;
UPDATE t SET name = name || '-x' WHERE id % 3 = 0;
DELETE FROM t WHERE id % 5 = 0;
SELECT count(*), max(name) FROM t;" ;;
    git)
      export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@t GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@t
      export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
      rm -rf repo && git init -q repo && cd repo || return 1
      i=0
      while [ $i -lt 20 ]; do
        mkdir -p d$i
        seq $((i * 1000)) $((i * 1000 + 3000)) > d$i/f.txt
        awk -v n=$i 'BEGIN { for (j = 0; j < 2000; j++) print n, j, n * j }' > d$i/g.txt
        git add -A && git commit -q -m "c$i"
        i=$((i + 1))
      done
      git gc -q --aggressive 2>/dev/null
      git fsck --no-progress && git rev-parse HEAD && git count-objects -v | grep -E '^(count|in-pack)'
      cd .. ;;
    gxx)
      {
        echo '#include <map>'; echo '#include <string>'; echo '#include <vector>'; echo '#include <cstdio>'
        echo 'template <int N> struct F { static long v() { return F<N - 1>::v() * 3 % 1000003 + N; } };'
        echo 'template <> struct F<0> { static long v() { return 1; } };'
        i=0
        while [ $i -lt 300 ]; do
          echo "std::map<std::string, std::vector<int>> m$i() { std::map<std::string, std::vector<int>> m; m[\"k$i\"].push_back($i); return m; }"
          i=$((i + 1))
        done
        printf '%s\n' 'int main() { long s = F<300>::v(); std::printf("%ld %zu\n", s, m7().size() + m299().size()); }'
      } > tu.cc
      g++ -O1 -ftemplate-depth=400 tu.cc -o tu && ./tu ;;
    perl)
      perl -e '
my %h; my $s = "";
for my $i (1 .. 300000) { $h{"key$i"} = "v" x ($i % 50); }
for my $k (sort keys %h) { $s .= substr($k, 3) if length($h{$k}) == 7; }
my $sum = 0; $sum = ($sum * 31 + ord($_)) % 1000000007 for split //, $s;
my @w = map { join "", reverse split //, "word$_" } 1 .. 100000;
print scalar(keys %h), " ", length($s), " $sum ", scalar(@w), "\n";' ;;
    prodcons)
      "$1" 2 300000 2048 | tail -1 ;;
    *) echo "unknown integration test $name" >&2; return 2 ;;
  esac
}

if [ "${MM_WORKLOAD:-}" = 1 ]; then  # re-invoked below, under time
  workload "$@"
  exit $?
fi

# Runs the workload (re-invoking this script) with or without the preload; output
# to $1, "seconds maxrss_kb" to $1.time, exit status to $1.rc.
timed() {
  out=$1
  shift
  if command -v /usr/bin/time >/dev/null 2>&1; then
    env ${PRELOAD_LIB:+LD_PRELOAD=$PRELOAD_LIB} MM_WORKLOAD=1 /usr/bin/time -f "%e %M" -o "$out.time" \
      "$self" "$name" "$lib" "$@" > "$out" 2> "$out.err"
  else
    env ${PRELOAD_LIB:+LD_PRELOAD=$PRELOAD_LIB} MM_WORKLOAD=1 "$self" "$name" "$lib" "$@" > "$out" 2> "$out.err"
    echo "? ?" > "$out.time"
  fi
  echo $? > "$out.rc"
}

shift 2
PRELOAD_LIB= timed "$work/glibc.out" "$@"
PRELOAD_LIB=$lib timed "$work/mymalloc.out" "$@"
read t_g r_g <<EOT
$(tail -n 1 "$work/glibc.out.time")
EOT
read t_m r_m <<EOT
$(tail -n 1 "$work/mymalloc.out.time")
EOT
echo "$name: glibc ${t_g} s ${r_g} KiB, mymalloc ${t_m} s ${r_m} KiB (wall seconds, peak RSS)"
echo "--- output"; cat "$work/mymalloc.out"
[ "$(cat "$work/glibc.out.rc")" = 0 ] || { echo "the run without the preload failed"; cat "$work/glibc.out.err"; exit 1; }
[ "$(cat "$work/mymalloc.out.rc")" = 0 ] || { echo "the run with mymalloc failed"; cat "$work/mymalloc.out.err"; exit 1; }
[ -s "$work/mymalloc.out" ] || { echo "no output"; exit 1; }
cmp -s "$work/glibc.out" "$work/mymalloc.out" || { echo "outputs differ"; diff "$work/glibc.out" "$work/mymalloc.out" | head; exit 1; }
