/* Prints VmData (KiB) at the start of main: ci/check-vmdata.sh runs it with and
 * without the preload and bounds the difference. */
#include <stdio.h>

#include "regress.h"

int main(void) {
  size_t v = vmdata_bytes();
  printf("%zu\n", v / 1024);
  return 0;
}
