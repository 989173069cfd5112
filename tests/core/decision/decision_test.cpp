#include "decision.hpp"

#include <gtest/gtest.h>

#include "units.hpp"

namespace vmemcheck {
namespace {

using namespace decision;

constexpr uint64_t kBlock = 2 * MiB;
constexpr uint64_t kExtent = 256 * MiB;  // x86-64
constexpr uint64_t kTop = UINT64_MAX;

TEST(Decision, AlignUp) {
  EXPECT_EQ(align_up<Word>(0, kBlock), 0u);
  EXPECT_EQ(align_up<Word>(1, kBlock), kBlock);
  EXPECT_EQ(align_up<Word>(kBlock, kBlock), kBlock);
  EXPECT_EQ(align_up<Word>(kBlock + 1, kBlock), 2 * kBlock);
  EXPECT_EQ(align_up<Word>(10, 3), 12u);  // not restricted to powers of two
}

TEST(Decision, MinMax) {
  EXPECT_EQ(max_of<Word>(3, 7), 7u);
  EXPECT_EQ(max_of<Word>(7, 3), 7u);
  EXPECT_EQ(min_of<Word>(3, 7), 3u);
  EXPECT_EQ(min_of<Word>(kTop, 0), 0u);
}

TEST(Decision, DivCeilDoesNotWrapNearTop) {
  EXPECT_EQ(div_ceil<Word>(0, 5), 0u);
  EXPECT_EQ(div_ceil<Word>(10, 5), 2u);
  EXPECT_EQ(div_ceil<Word>(11, 5), 3u);
  // (a + b - 1) / b would wrap here.
  EXPECT_EQ(div_ceil<Word>(kTop, 2), uint64_t{1} << 63);
  EXPECT_EQ(div_ceil<Word>(kTop, kTop), 1u);
}

TEST(Decision, UsableRegionIsZeroWhenNothingRequested) {
  EXPECT_EQ(usable_region_size<Word>(4 * GiB, kBlock, 0, kExtent), 0u);
}

TEST(Decision, UsableRegionAddsTheExtent) {
  EXPECT_EQ(usable_region_size<Word>(4 * GiB, kBlock, GiB, kExtent), GiB + 256 * MiB);
  EXPECT_EQ(usable_region_size<Word>(4 * GiB, kBlock, kBlock, kExtent), kBlock + 256 * MiB);
}

TEST(Decision, UsableRegionIsCappedAtTheRegion) {
  EXPECT_EQ(usable_region_size<Word>(4 * GiB, kBlock, 4 * GiB - 128 * MiB, kExtent), 4 * GiB);
  EXPECT_EQ(usable_region_size<Word>(4 * GiB, kBlock, 4 * GiB, kExtent), 4 * GiB);
  // Exactly region - extent: the sum equals the region.
  EXPECT_EQ(usable_region_size<Word>(4 * GiB, kBlock, 4 * GiB - 256 * MiB, kExtent), 4 * GiB);
}

TEST(Decision, UsableRegionIsBlockAligned) {
  // 512 MiB blocks: 512 MiB + 256 MiB = 768 MiB rounds up to 1 GiB.
  EXPECT_EQ(usable_region_size<Word>(4 * GiB, 512 * MiB, 512 * MiB, kExtent), GiB);
}

TEST(Decision, UsableRegionDoesNotWrapNearTop) {
  // requested + extent would wrap; the min() is computed without the sum.
  const uint64_t region = kTop - (kBlock - 1);  // a multiple of kBlock
  EXPECT_EQ(usable_region_size<Word>(region, kBlock, region - kBlock, kExtent), region);
}

// Device at 4 GiB with 1 GiB usable, 2 MiB blocks.
constexpr uint64_t kDev = 4 * GiB;
constexpr uint64_t kUsable = GiB;

bool valid(uint64_t gpa, uint64_t nb_blocks, uint64_t block = kBlock) {
  return request_range_valid<Word>(kDev, kUsable, block, gpa, nb_blocks);
}

TEST(Decision, RangeValidInsideUsable) {
  EXPECT_TRUE(valid(kDev, 1));
  EXPECT_TRUE(valid(kDev, 512));                  // exactly the usable region
  EXPECT_TRUE(valid(kDev + kUsable - kBlock, 1));  // the last usable block
}

TEST(Decision, RangeInvalidWhenUnaligned) {
  EXPECT_FALSE(valid(kDev + 4096, 1));
  EXPECT_FALSE(valid(kDev + MiB, 1));
}

TEST(Decision, RangeInvalidWhenEmpty) { EXPECT_FALSE(valid(kDev, 0)); }

TEST(Decision, RangeInvalidBelowDevice) {
  EXPECT_FALSE(valid(kDev - kBlock, 1));
  EXPECT_FALSE(valid(kDev - kBlock, 2));  // ends inside, starts below
  EXPECT_FALSE(valid(0, 1));
}

TEST(Decision, RangeInvalidBeyondUsable) {
  EXPECT_FALSE(valid(kDev, 513));
  EXPECT_FALSE(valid(kDev + kUsable, 1));
  EXPECT_FALSE(valid(kDev + kUsable - kBlock, 2));
}

TEST(Decision, RangeInvalidWhenEndWraps) {
  // Aligned, non-empty, above the device, and the wrapped end (one block) lies
  // below dev + usable: only the wrap check rejects it.
  const uint64_t gpa = kTop - kBlock + 1;
  EXPECT_FALSE(valid(gpa, 2));
}

TEST(Decision, RangeSizeWrapsLikeTheDevice) {
  // 2^52-byte blocks: 4096 blocks are 2^64 bytes, which is 0 in 64 bits.
  const uint64_t block = uint64_t{1} << 52;
  EXPECT_FALSE(request_range_valid<Word>(0, block, block, 0, 4096));
  // 4097 blocks wrap to exactly one block and are judged as such.
  EXPECT_TRUE(request_range_valid<Word>(0, block, block, 0, 4097));
}

TEST(Decision, AutoLayoutSingleSlotForSmallLimits) {
  for (uint64_t limit : {uint64_t{0}, uint64_t{1}}) {
    const auto layout = auto_layout<Word>(TiB, kBlock, limit, GiB);
    EXPECT_EQ(layout.slot_size, TiB) << limit;
    EXPECT_EQ(layout.count, 1u) << limit;
  }
}

TEST(Decision, AutoLayoutSplitsByLimit) {
  const auto layout = auto_layout<Word>(TiB, kBlock, 256, GiB);
  EXPECT_EQ(layout.slot_size, 4 * GiB);
  EXPECT_EQ(layout.count, 256u);
}

TEST(Decision, AutoLayoutAtLeastOneGibibyte) {
  const auto layout = auto_layout<Word>(3 * GiB, kBlock, 256, GiB);
  EXPECT_EQ(layout.slot_size, GiB);
  EXPECT_EQ(layout.count, 3u);
}

TEST(Decision, AutoLayoutLastSlotShorter) {
  const auto layout = auto_layout<Word>(2 * GiB + 512 * MiB, kBlock, 256, GiB);
  EXPECT_EQ(layout.slot_size, GiB);
  EXPECT_EQ(layout.count, 3u);
  EXPECT_EQ(slot_length<Word>(2 * GiB + 512 * MiB, layout.slot_size, 2), 512 * MiB);
}

TEST(Decision, AutoLayoutSlotSizeIsBlockAligned) {
  // 100 GiB / 7 = 14.28 GiB, rounded up to the 2 MiB block.
  const auto layout = auto_layout<Word>(100 * GiB, kBlock, 7, GiB);
  EXPECT_EQ(layout.slot_size, 7315 * kBlock);  // align_up(107374182400 / 7, 2 MiB)
  EXPECT_EQ(layout.slot_size % kBlock, 0u);
  EXPECT_EQ(layout.count, 7u);
}

TEST(Decision, AutoLayoutBlockLargerThanMinimum) {
  const auto layout = auto_layout<Word>(16 * GiB, 2 * GiB, 256, GiB);
  EXPECT_EQ(layout.slot_size, 2 * GiB);
  EXPECT_EQ(layout.count, 8u);
}

TEST(Decision, AutoLayoutRegionBelowMinimumIsOneSlot) {
  const auto layout = auto_layout<Word>(512 * MiB, kBlock, 256, GiB);
  EXPECT_EQ(layout.slot_size, 512 * MiB);
  EXPECT_EQ(layout.count, 1u);
}

TEST(Decision, CountLayoutSeed002Example) {
  // 500 GiB with memslots=500: 1 GiB slots.
  const auto layout = count_layout<Word>(500 * GiB, 128 * MiB, 500);
  EXPECT_EQ(layout.slot_size, GiB);
  EXPECT_EQ(layout.count, 500u);
}

TEST(Decision, CountLayoutRoundsToAlignment) {
  // ceil(1 GiB / 3) = 357913942 rounds up to 384 MiB; the last slot is 256 MiB.
  const auto layout = count_layout<Word>(GiB, 128 * MiB, 3);
  EXPECT_EQ(layout.slot_size, 384 * MiB);
  EXPECT_EQ(layout.count, 3u);
  EXPECT_EQ(slot_length<Word>(GiB, layout.slot_size, 2), 256 * MiB);
}

TEST(Decision, CountLayoutNeverBelowAlignment) {
  // 1000 slots of 1 GiB would be 1 MiB each; the alignment wins.
  const auto layout = count_layout<Word>(GiB, 128 * MiB, 1000);
  EXPECT_EQ(layout.slot_size, 128 * MiB);
  EXPECT_EQ(layout.count, 8u);
}

TEST(Decision, CountLayoutOneOrZeroIsWholeRegion) {
  for (uint64_t count : {uint64_t{0}, uint64_t{1}}) {
    const auto layout = count_layout<Word>(GiB, 128 * MiB, count);
    EXPECT_EQ(layout.slot_size, GiB);
    EXPECT_EQ(layout.count, 1u);
  }
}

TEST(Decision, FixedLayout) {
  auto layout = fixed_layout<Word>(GiB + 64 * MiB, 128 * MiB);
  EXPECT_EQ(layout.slot_size, 128 * MiB);
  EXPECT_EQ(layout.count, 9u);
  layout = fixed_layout<Word>(64 * MiB, 128 * MiB);
  EXPECT_EQ(layout.slot_size, 64 * MiB);
  EXPECT_EQ(layout.count, 1u);
}

TEST(Decision, TouchedSlots) {
  // 1 GiB slots.
  auto range = touched_slots<Word>(GiB, 0, kBlock);
  EXPECT_EQ(range.first, 0u);
  EXPECT_EQ(range.end, 1u);
  range = touched_slots<Word>(GiB, GiB - kBlock, 2 * kBlock);  // straddles slots 0 and 1
  EXPECT_EQ(range.first, 0u);
  EXPECT_EQ(range.end, 2u);
  range = touched_slots<Word>(GiB, GiB, GiB);  // exactly slot 1
  EXPECT_EQ(range.first, 1u);
  EXPECT_EQ(range.end, 2u);
  range = touched_slots<Word>(GiB, 3 * GiB - kBlock, kBlock);
  EXPECT_EQ(range.first, 2u);
  EXPECT_EQ(range.end, 3u);
}

TEST(Decision, SlotOffsetAndLength) {
  EXPECT_EQ(slot_offset<Word>(GiB, 3), 3 * GiB);
  EXPECT_EQ(slot_length<Word>(3 * GiB + kBlock, GiB, 0), GiB);
  EXPECT_EQ(slot_length<Word>(3 * GiB + kBlock, GiB, 3), kBlock);
}

TEST(Decision, SlotMappedByUsableRegion) {
  EXPECT_FALSE(slot_mapped_by_usable_region<Word>(0, 0));
  EXPECT_TRUE(slot_mapped_by_usable_region<Word>(0, kBlock));
  EXPECT_TRUE(slot_mapped_by_usable_region<Word>(GiB, GiB + kBlock));  // intersects
  EXPECT_FALSE(slot_mapped_by_usable_region<Word>(GiB, GiB));        // starts at the end
}

// auto_memslot_limit(max, free, required, used, space, used_region, size, 256, 509).
uint64_t limit(uint64_t max, uint64_t free, uint64_t required, uint64_t used, uint64_t space,
               uint64_t used_region, uint64_t size) {
  return auto_memslot_limit<Word>(max, free, required, used, space, used_region, size, 256, 509);
}

TEST(Decision, MemslotLimitWholeSpaceGetsSoftLimit) {
  EXPECT_EQ(limit(32764, 32756, 0, 0, TiB, 0, TiB), 256u);
  EXPECT_EQ(limit(32764, 32756, 10, 10, 2 * TiB, TiB, TiB), 246u);  // 256 - required
}

TEST(Decision, MemslotLimitBelowSafeMaxIsOne) {
  EXPECT_EQ(limit(508, 500, 0, 0, TiB, 0, TiB), 1u);
  EXPECT_EQ(limit(509, 501, 0, 0, TiB, 0, TiB), 256u);
}

TEST(Decision, MemslotLimitSoftLimitExhaustedIsOne) {
  EXPECT_EQ(limit(32764, 32756, 256, 0, 2 * TiB, TiB, TiB), 1u);
  EXPECT_EQ(limit(32764, 32756, 300, 300, 2 * TiB, TiB, TiB), 1u);
  EXPECT_EQ(limit(32764, 32756, 255, 255, 2 * TiB, TiB, TiB), 1u);  // n = 1
}

TEST(Decision, MemslotLimitBoundedByFreeMinusReserved) {
  // free 600, 550 promised but unmapped: only 50 are really spare.
  EXPECT_EQ(limit(32764, 600, 0, 0, TiB, 0, TiB), 256u);
  EXPECT_EQ(limit(32764, 600, 200, 0, 2 * TiB, TiB, TiB), 56u);  // min(56, 400)
  EXPECT_EQ(limit(32764, 230, 200, 0, 2 * TiB, TiB, TiB), 30u);  // min(56, 30)
  EXPECT_EQ(limit(32764, 200, 200, 0, 2 * TiB, TiB, TiB), 1u);   // spare 0
  EXPECT_EQ(limit(32764, 100, 200, 0, 2 * TiB, TiB, TiB), 1u);   // free < reserved
}

TEST(Decision, MemslotLimitProportionalShare) {
  EXPECT_EQ(limit(32764, 32756, 0, 0, 2 * TiB, 0, 512 * GiB), 64u);  // 256 * 1/4
  EXPECT_EQ(limit(32764, 32756, 64, 0, 2 * TiB, 512 * GiB, 512 * GiB), 64u);  // 192 * 1/3
  EXPECT_EQ(limit(32764, 32756, 0, 0, 2 * TiB, 0, GiB), 1u);  // 256 / 2048 rounds to 0 -> 1
  EXPECT_EQ(limit(32764, 32756, 0, 0, 2 * TiB, 0, 16 * GiB), 2u);
}

}  // namespace
}  // namespace vmemcheck
