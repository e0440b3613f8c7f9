#!/bin/sh
# Includes run only downward: common < os < meta < page < small, medium < frontend
# < api, and small and medium never include each other. Fails naming each include
# that runs upward. Usage: ci/check-layers.sh [source root]
cd "${1:-$(dirname "$0")/../src}" || exit 2
rank() {
  case $1 in
    common) echo 0 ;; os) echo 1 ;; meta) echo 2 ;; page) echo 3 ;;
    small | medium) echo 4 ;; frontend) echo 5 ;; api) echo 6 ;; *) echo 99 ;;
  esac
}
bad=0
for f in */*.h */*.cc; do
  from=${f%%/*}
  for inc in $(sed -n 's|^#include "\.\./\([a-z]*\)/.*|\1|p' "$f"); do
    if [ "$(rank "$inc")" -gt "$(rank "$from")" ] ||
       { [ "$(rank "$inc")" -eq "$(rank "$from")" ] && [ "$inc" != "$from" ]; }; then
      echo "upward include: $f includes $inc/"
      bad=1
    fi
  done
done
[ $bad = 0 ] && echo "layers: ok"
exit $bad
