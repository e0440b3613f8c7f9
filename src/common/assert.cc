#include "assert.h"

#include <stdlib.h>

namespace mm {

void assert_failed(const char* cond, const char* file, int line) {
  write_err("mymalloc: assertion failed: ");
  write_err(cond);
  write_err(" at ");
  write_err(file);
  write_err(":");
  write_err_num(static_cast<uint64_t>(line));
  write_err("\n");
  abort();
}

}  // namespace mm
