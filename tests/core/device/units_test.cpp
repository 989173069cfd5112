#include "units.hpp"

#include <gtest/gtest.h>

namespace vmemcheck {
namespace {

TEST(Units, ConstantsArePowersOfTwo) {
  EXPECT_EQ(KiB, 1024u);
  EXPECT_EQ(MiB, 1048576u);
  EXPECT_EQ(GiB, 1073741824u);
  EXPECT_EQ(TiB, 1099511627776u);
}

TEST(Units, ParseSizeDecimalWithoutSuffix) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("4097"), 4097u);
  EXPECT_EQ(parse_size("18446744073709551615"), UINT64_MAX);
}

TEST(Units, ParseSizeBinarySuffixes) {
  EXPECT_EQ(parse_size("1K"), 1024u);
  EXPECT_EQ(parse_size("2M"), 2 * MiB);
  EXPECT_EQ(parse_size("3G"), 3 * GiB);
  EXPECT_EQ(parse_size("1T"), TiB);
  EXPECT_EQ(parse_size("1P"), uint64_t{1} << 50);
  EXPECT_EQ(parse_size("1E"), uint64_t{1} << 60);
  EXPECT_EQ(parse_size("512m"), 512 * MiB);  // the unit letter is case-insensitive
}

TEST(Units, ParseSizeAcceptsByteSpellings) {
  EXPECT_EQ(parse_size("4KiB"), 4 * KiB);
  EXPECT_EQ(parse_size("4KB"), 4 * KiB);
  EXPECT_EQ(parse_size("4Ki"), std::nullopt);
  EXPECT_EQ(parse_size("4KBB"), std::nullopt);
  EXPECT_EQ(parse_size("4X"), std::nullopt);
}

TEST(Units, ParseSizeHex) {
  EXPECT_EQ(parse_size("0x1000"), 4096u);
  EXPECT_EQ(parse_size("0X140000000"), 0x140000000u);
  // B is a hex digit, so hex numbers take no suffix.
  EXPECT_EQ(parse_size("0x1B"), 27u);
  EXPECT_EQ(parse_size("0x1M"), std::nullopt);
  EXPECT_EQ(parse_size("0x"), std::nullopt);
}

TEST(Units, ParseSizeRejectsMalformedInput) {
  EXPECT_EQ(parse_size(""), std::nullopt);
  EXPECT_EQ(parse_size("M"), std::nullopt);
  EXPECT_EQ(parse_size("-1"), std::nullopt);
  EXPECT_EQ(parse_size(" 1"), std::nullopt);
  EXPECT_EQ(parse_size("1 M"), std::nullopt);
}

TEST(Units, ParseSizeRejectsOverflow) {
  EXPECT_EQ(parse_size("18446744073709551616"), std::nullopt);
  EXPECT_EQ(parse_size("0x10000000000000000"), std::nullopt);
  EXPECT_EQ(parse_size("15E"), 15 * (uint64_t{1} << 60));
  EXPECT_EQ(parse_size("16E"), std::nullopt);  // 2^64
  EXPECT_EQ(parse_size("16777216T"), std::nullopt);  // 2^24 * 2^40 = 2^64
}

TEST(Units, FormatSizeUsesLargestExactUnit) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(4097), "4097");
  EXPECT_EQ(format_size(3 * KiB), "3K");
  EXPECT_EQ(format_size(512 * MiB), "512M");
  EXPECT_EQ(format_size(1536 * MiB), "1536M");
  EXPECT_EQ(format_size(TiB), "1T");
  EXPECT_EQ(format_size(uint64_t{1} << 60), "1E");
}

TEST(Units, FormatSizeRoundTripsThroughParse) {
  for (uint64_t bytes : {uint64_t{0}, uint64_t{1}, uint64_t{4097}, 2 * MiB, 1536 * MiB, 500 * GiB,
                         3 * TiB + 2 * MiB, UINT64_MAX}) {
    EXPECT_EQ(parse_size(format_size(bytes)), bytes) << format_size(bytes);
  }
}

TEST(Units, FormatSizeApprox) {
  EXPECT_EQ(format_size_approx(0), "0 B");
  EXPECT_EQ(format_size_approx(1023), "1023 B");
  EXPECT_EQ(format_size_approx(1024), "1.00 KiB");
  EXPECT_EQ(format_size_approx(2.57 * GiB), "2.57 GiB");
  EXPECT_EQ(format_size_approx(512.0 * MiB), "512.00 MiB");
  // PiB is the largest unit: 2048 PiB stays in PiB.
  EXPECT_EQ(format_size_approx(2048.0 * 1024 * TiB), "2048.00 PiB");
}

}  // namespace
}  // namespace vmemcheck
