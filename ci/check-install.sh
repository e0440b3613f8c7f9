#!/bin/sh
# make install, checked as a packager and a user would: install into a scratch
# DESTDIR-like prefix, then build a program against it with find_package (shared
# and static), link one with -static, and run one through the `mymalloc` wrapper;
# each must be served by mymalloc (MYMALLOC_STATS=1 prints its summary at exit).
# Usage: ci/check-install.sh <build dir>
set -e
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --build "$build" --target mymalloc mymalloc_static >/dev/null
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
p=$tmp/prefix
for f in lib/libmymalloc.so lib/libmymalloc.a include/mymalloc.h lib/pkgconfig/mymalloc.pc \
         lib/cmake/mymalloc/mymallocConfig.cmake bin/mymalloc share/man/man3/mymalloc.3; do
  [ -e "$p/$f" ] || { echo "install: $f missing"; exit 1; }
done
v=$(sed -n 's/^#define MYMALLOC_VERSION "\(.*\)"/\1/p' "$src/include/mymalloc.h")
[ -e "$p/lib/libmymalloc.so.$v" ] || { echo "install: libmymalloc.so.$v missing"; exit 1; }
readelf -d "$p/lib/libmymalloc.so.$v" | grep -q "SONAME.*libmymalloc.so.${v%%.*}]" ||
  { echo "install: wrong soname"; exit 1; }
mkdir "$tmp/app"
cat > "$tmp/app/app.c" <<'C'
#include <mymalloc.h>
#include <stdio.h>
#include <stdlib.h>
int main(void) {
  void* p = malloc(100);
  free(p);
  printf("%s\n", MYMALLOC_VERSION);
  return 0;
}
C
cat > "$tmp/app/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.18)
project(app C)
find_package(mymalloc REQUIRED)
add_executable(app_shared app.c)
target_link_libraries(app_shared PRIVATE mymalloc::mymalloc)
add_executable(app_static app.c)
target_link_libraries(app_static PRIVATE mymalloc::static)
C
cmake -S "$tmp/app" -B "$tmp/app/b" -DCMAKE_PREFIX_PATH="$p" >/dev/null
cmake --build "$tmp/app/b" >/dev/null
ours() { MYMALLOC_STATS=1 "$@" 2>&1 | grep -q "^mymalloc\[[0-9]*\]: mapped_bytes" || { echo "install: $* not served by mymalloc"; exit 1; }; }
ours env LD_LIBRARY_PATH="$p/lib" "$tmp/app/b/app_shared"
ours "$tmp/app/b/app_static"
cc -static -I"$p/include" "$tmp/app/app.c" "$p/lib/libmymalloc.a" -lpthread -o "$tmp/app/full_static"
ours "$tmp/app/full_static"
printf '#include <stdlib.h>\nint main(void) { free(malloc(64)); return 0; }\n' > "$tmp/app/plain.c"
cc "$tmp/app/plain.c" -o "$tmp/app/plain"  # an unchanged program, run through the wrapper
ours "$p/bin/mymalloc" "$tmp/app/plain"
[ "$("$p/bin/mymalloc" --version)" = "mymalloc $v" ] || { echo "install: wrapper version"; exit 1; }
echo "install: ok ($v)"
