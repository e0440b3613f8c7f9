#!/bin/sh
# No file in src/ over 400 lines (files of one concern, docs/architecture.md).
# Usage: ci/check-file-length.sh [source root] [limit]
cd "${1:-$(dirname "$0")/../src}" || exit 2
limit=${2:-400}
bad=$(wc -l */*.h */*.cc | awk -v l="$limit" '$2 != "total" && $1 > l {print $2 " (" $1 " lines)"}')
[ -z "$bad" ] && { echo "file length: ok"; exit 0; }
echo "over $limit lines: $bad"
exit 1
