#include <doctest/doctest.h>

#include "common/size_class.h"

using namespace mm;

TEST_CASE("size classes: every request maps to a class that holds it, 16-byte sizes") {
  for (size_t n = 1; n <= kCachedMax; ++n) {
    uint32_t b = size_bin(n);
    REQUIRE(b >= 1);
    REQUIRE(b < kNumBins);
    CHECK(bin_size(b) >= n);
    CHECK(bin_size(b) - n < 16);
    CHECK(bin_size(b) % 16 == 0);
  }
  CHECK(size_bin(0) == 0);
  CHECK(is_small_class(size_bin(kSmallMax)));
  CHECK_FALSE(is_small_class(size_bin(kSmallMax + 1)));
}

TEST_CASE("size classes: slabs hold at least 64 objects and waste under 1%") {
  for (uint32_t c = 1; c <= kNumSmallClasses; ++c) {
    const ClassInfo& ci = class_info(c);
    CHECK(ci.size == c * 16);
    CHECK(ci.objects >= 64);
    size_t slab = ci.pages * kPageSize;
    CHECK(ci.objects * ci.size <= slab);
    CHECK((slab - ci.objects * ci.size) * 100 < slab);
    CHECK(ci.batch == kSmallBatch);
    CHECK(ci.objects >= ci.batch);  // a fresh slab fills a whole batch
  }
  for (uint32_t b = kNumSmallClasses + 1; b < kFirstBigBin; ++b) {
    CHECK(class_info(b).batch >= 2);
    CHECK(class_info(b).batch <= 16);
  }
}

TEST_CASE("size classes: medium classes over 1 KiB, eight per doubling, floor and ceiling") {
  CHECK(bin_size(kFirstBigBin) == 1152);
  CHECK(bin_size(kFirstBigBin + 7) == 2048);
  CHECK(bin_size(kFirstBigBin + 8) == 2304);
  CHECK(bin_size(kNumBins - 1) == kBigCachedMax);
  for (uint32_t b = kFirstBigBin; b < kNumBins; ++b) {
    CHECK(bin_size(b) % 16 == 0);
    CHECK(bin_size(b) > bin_size(b - 1));
    CHECK((bin_size(b) - bin_size(b - 1)) * 8 <= bin_size(b - 1));  // 12.5% apart at most
    CHECK(class_info(b).size == bin_size(b));
    CHECK(class_info(b).batch >= 1);
  }
  for (size_t n = 1; n <= kBigCachedMax; n += (n < 4096 ? 1 : 7)) {
    uint32_t b = cached_bin(n);
    REQUIRE(b >= 1);
    REQUIRE(b < kNumBins);
    CHECK(bin_size(b) >= n);
    CHECK((b == 1 || bin_size(b - 1) < n));  // the smallest that holds it
  }
  CHECK(cached_bin(kBigCachedMax) == kNumBins - 1);
  for (size_t p = kSmallMax + 16; p < kBigCachedMax + kBigCachedMax / 8; p += 16) {
    uint32_t b = cached_bin_floor(p);
    REQUIRE(b > kNumSmallClasses);
    REQUIRE(b < kNumBins);
    CHECK(bin_size(b) <= p);  // the largest it holds
    CHECK((b == kNumBins - 1 || bin_size(b + 1) > p));
  }
  CHECK(cached_bin_floor(kBigCachedMax + kBigCachedMax / 8) == 0);
}

TEST_CASE("size classes: the tables over 1 KiB agree with the formulas") {
  for (size_t n = kCachedMax + 1; n <= kBigCachedMax; ++n)
    REQUIRE(big_cached_bin(n) == cached_bin(n));
  for (size_t payload = kCachedMax + 16; payload < kBigCachedMax + kBigCachedMax / kBigPerDoubling;
       payload += 16)
    REQUIRE(big_cached_bin_floor(payload) == cached_bin_floor(payload));
}
