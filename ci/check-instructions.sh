#!/bin/sh
# Golden instruction count of the small-object fast path (tcmalloc-style): fails if a
# malloc+free pair (plus the loop's own ~13) takes more than the bound. Instruction
# counts from callgrind are exact and repeatable, so this is a robust check.
# Usage: ci/check-instructions.sh <fastpath binary> <library> <bound>
if ! command -v valgrind >/dev/null 2>&1; then echo "valgrind missing: skipped"; exit 0; fi
n=$("$(dirname "$0")/instr-per-pair.sh" "$1" "$2")
echo "instructions per malloc+free pair: $n (bound $3)"
[ "$n" -le "$3" ]
