#!/bin/sh
# Installs what is missing from Debian packages: as root with apt-get (one line on
# stderr says what), otherwise prints the command to run and fails.
# Usage: ci/install-deps.sh build   what the library needs (make all)
#        ci/install-deps.sh test    that and what the tests need (make check)
missing=""
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v g++ >/dev/null 2>&1 || missing="$missing g++"
command -v make >/dev/null 2>&1 || missing="$missing make"
[ -f /usr/include/atomic_ops.h ] || missing="$missing libatomic-ops-dev"
if [ "${1:-build}" = test ]; then
  [ -f /usr/include/doctest/doctest.h ] || missing="$missing doctest-dev"
  command -v sqlite3 >/dev/null 2>&1 || missing="$missing sqlite3"
  command -v git >/dev/null 2>&1 || missing="$missing git"
  command -v perl >/dev/null 2>&1 || missing="$missing perl"
  command -v python3 >/dev/null 2>&1 || missing="$missing python3"
  [ -x /usr/bin/time ] || missing="$missing time"
  command -v valgrind >/dev/null 2>&1 || missing="$missing valgrind"
  command -v clang-format >/dev/null 2>&1 || missing="$missing clang-format"
  command -v google-pprof >/dev/null 2>&1 || missing="$missing google-perftools"
fi
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
