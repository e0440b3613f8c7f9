#include <doctest/doctest.h>

#include "fake_os.h"
#include "page/pagemap.h"

using namespace mm;

TEST_CASE("pagemap: unknown pages read as no span without allocating nodes") {
  static Pagemap pm;
  CHECK(pm.span(12345) == nullptr);
  CHECK(pm.cls(12345) == kClsNone);
  CHECK(pm.span_of(nullptr) == nullptr);
  CHECK(pm.span(uintptr_t{1} << 34) == nullptr);  // top of a 47-bit address space
  CHECK(pm.node_bytes() == 0);
}

TEST_CASE("pagemap: set and clear ranges across leaf boundaries") {
  static Pagemap pm;
  Span s;
  uintptr_t first = kPmLeafLen - 3;  // straddles two leaves
  REQUIRE(pm.ensure(first, 10));
  pm.set_range(first, 10, &s, 7);
  for (uintptr_t p = first; p < first + 10; ++p) {
    CHECK(pm.span(p) == &s);
    CHECK(pm.cls(p) == 7);
  }
  CHECK(pm.span(first - 1) == nullptr);
  CHECK(pm.span(first + 10) == nullptr);
  pm.clear_range(first, 10);
  CHECK(pm.span(first + 5) == nullptr);
  // A small heap costs a few KiB: two leaves, one node of each interior level.
  CHECK(pm.node_bytes() == 2 * sizeof(PmLeaf) + sizeof(PmNode3) + sizeof(PmNode2));
  CHECK(pm.node_bytes() < 20 * 1024);
}
