#!/bin/sh
# A real program's allocation pattern: perl (Debian's, which uses the system
# malloc) running perl_workload.pl with the allocator the caller preloads.
# Usage: perl_workload.sh [keys=300000]. First stdout line: seconds; nothing at
# all when perl is missing (make bench then records no figure).
command -v perl >/dev/null 2>&1 || exit 0
dir=$(dirname "$0")
start=$(date +%s.%N)
perl "$dir/perl_workload.pl" "${1:-300000}" >/dev/null || exit 1
end=$(date +%s.%N)
awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
