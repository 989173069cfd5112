#include "reference_guest_data.hpp"

#include <gtest/gtest.h>

#include <array>

namespace vmemcheck {
namespace {

std::array<uint8_t, 8> le(uint64_t value) {
  std::array<uint8_t, 8> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  return bytes;
}

TEST(ReferenceGuestData, NeverWrittenReadsZero) {
  const ReferenceGuestData data;
  EXPECT_EQ(data.load(0x1000), 0u);
}

TEST(ReferenceGuestData, AWordKeepsWhatWasStoredUntilDiscarded) {
  ReferenceGuestData data;
  data.store(0x2008, le(0x1122334455667788));
  EXPECT_EQ(data.load(0x2008), 0x1122334455667788u);
  data.discard(0x2000, 0x8);  // the word before: untouched
  EXPECT_EQ(data.load(0x2008), 0x1122334455667788u);
  data.discard(0x2000, 0x1000);
  EXPECT_EQ(data.load(0x2008), 0u);
}

TEST(ReferenceGuestData, BytesAcrossTwoWordsPatchBoth) {
  ReferenceGuestData data;
  data.store(0x0, le(0xffffffffffffffff));
  const std::array<uint8_t, 4> bytes{0x01, 0x02, 0x03, 0x04};
  data.store(0x6, bytes);  // the last two bytes of word 0, the first two of word 8
  EXPECT_EQ(data.load(0x0), 0x0201ffffffffffffu);
  EXPECT_EQ(data.load(0x8), 0x0403u);
}

TEST(ReferenceGuestData, AForgottenWordIsUnknownUntilDiscarded) {
  ReferenceGuestData data;
  data.forget(0x14, 8);  // words 0x10 and 0x18
  EXPECT_EQ(data.load(0x10), std::nullopt);
  EXPECT_EQ(data.load(0x18), std::nullopt);
  data.store(0x10, le(7));  // a store into an unknown word leaves it unknown
  EXPECT_EQ(data.load(0x10), std::nullopt);
  data.discard_all();
  EXPECT_EQ(data.load(0x10), 0u);
}

TEST(ReferenceGuestData, DiscardWhereDropsTheChosenWords) {
  ReferenceGuestData data;
  data.store(0x0, le(1));
  data.store(0x100000, le(2));
  data.discard_where([](uint64_t offset) { return offset >= 0x100000; });
  EXPECT_EQ(data.load(0x0), 1u);
  EXPECT_EQ(data.load(0x100000), 0u);
  EXPECT_EQ(data.tracked_words(), 1u);
}

}  // namespace
}  // namespace vmemcheck
