#!/bin/sh
# Installs what the build needs from Debian packages when it is missing: as root with
# apt-get, otherwise prints the command to run.
missing=""
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v make >/dev/null 2>&1 || missing="$missing make"
[ -f /usr/include/doctest/doctest.h ] || missing="$missing doctest-dev"
[ -f /usr/include/atomic_ops.h ] || missing="$missing libatomic-ops-dev"
command -v sqlite3 >/dev/null 2>&1 || missing="$missing sqlite3"
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v perl >/dev/null 2>&1 || missing="$missing perl"
command -v python3 >/dev/null 2>&1 || missing="$missing python3"
[ -x /usr/bin/time ] || missing="$missing time"
command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
command -v clang-format >/dev/null 2>&1 || missing="$missing clang-format"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "mymalloc: installing$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  (apt-get install -y --no-install-recommends $missing || { apt-get update && apt-get install -y --no-install-recommends $missing; }) >/dev/null 2>&1 \
    || { echo "mymalloc: apt-get install$missing failed" >&2; exit 1; }
else
  echo "mymalloc: missing$missing; run: sudo apt-get install -y$missing" >&2
  exit 1
fi
