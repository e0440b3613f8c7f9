#!/bin/sh
# A server: redis-server (Debian's) with the allocator the caller preloads, driven
# by redis-benchmark with 1000-byte values as the speed issue measured it
# (-t set,get -n 200000 -P 16 -d 1000 -r 100000); the client runs without the
# preload. Usage: redis_workload.sh set|get. First stdout line: requests per
# second of that test; nothing at all when redis-server or redis-benchmark is
# missing.
for t in redis-server redis-benchmark redis-cli; do command -v $t >/dev/null 2>&1 || exit 0; done
op=$(echo "${1:-set}" | tr a-z A-Z)
port=$((20000 + $$ % 20000))
# Debian links redis-server with jemalloc: without a preload, glibc's malloc has
# to be put first by hand for the glibc column to be glibc's.
[ -n "${LD_PRELOAD:-}" ] || export LD_PRELOAD=libc.so.6
redis-server --port "$port" --save "" --appendonly no --loglevel warning >/dev/null 2>&1 &
pid=$!
i=0
until env -u LD_PRELOAD timeout 5 redis-cli -p "$port" ping >/dev/null 2>&1; do
  i=$((i + 1))
  [ $i -gt 100 ] && { kill $pid; exit 1; }
  sleep 0.05
done
# SET runs first in every case: GET then reads the values SET stored (alone, on an
# empty server, every GET found nothing, and no allocator was measured).
env -u LD_PRELOAD timeout 120 redis-benchmark -p "$port" -t set,get -n 200000 -P 16 -d 1000 -r 100000 -q 2>/dev/null |
  tr '\r' '\n' | sed -n "s/^$op: \([0-9.]*\) requests per second.*/\1/p" | tail -n 1
kill $pid
wait $pid 2>/dev/null
exit 0
