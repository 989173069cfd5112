#include "memslot_policy.hpp"

#include <gtest/gtest.h>

namespace vmemcheck {
namespace {

std::unique_ptr<MemslotPolicy> policy_for(MemslotMode mode, bool unplugged_inaccessible = true) {
  DeviceConfig config;
  config.mode = mode;
  config.unplugged_inaccessible = unplugged_inaccessible;
  config.memslots = 500;
  config.fixed_slot_size = 128 * MiB;
  return make_memslot_policy(config);
}

TEST(MemslotPolicy, StaticIsOneSlotMappedAlways) {
  const auto policy = policy_for(MemslotMode::Static);
  EXPECT_FALSE(policy->decides_automatically());
  EXPECT_EQ(policy->map_rule(), MapRule::WholeRegion);
  // The limit is ignored.
  EXPECT_EQ(policy->layout(TiB, 2 * MiB, 256), (MemslotLayout{TiB, TiB, 1}));
}

TEST(MemslotPolicy, CountFollowsTheUsableRegion) {
  const auto policy = policy_for(MemslotMode::Count);
  EXPECT_FALSE(policy->decides_automatically());
  EXPECT_EQ(policy->map_rule(), MapRule::UsableRegion);
  // Seed 002: 500 GiB with memslots=500 gives 1 GiB memslots, whatever the limit.
  EXPECT_EQ(policy->layout(500 * GiB, 2 * MiB, 1), (MemslotLayout{500 * GiB, GiB, 500}));
}

TEST(MemslotPolicy, CountAlignsToLargeBlocks) {
  // Alignment is max(block, 128 MiB): with 1 GiB blocks, 500 slots of a 100 GiB
  // region become 100 slots of 1 GiB.
  const auto policy = policy_for(MemslotMode::Count);
  EXPECT_EQ(policy->layout(100 * GiB, GiB, 1), (MemslotLayout{100 * GiB, GiB, 100}));
}

TEST(MemslotPolicy, MultipleMapRuleDependsOnUnpluggedInaccessible) {
  const auto inaccessible = policy_for(MemslotMode::Multiple, true);
  const auto accessible = policy_for(MemslotMode::Multiple, false);
  EXPECT_TRUE(inaccessible->decides_automatically());
  EXPECT_EQ(inaccessible->map_rule(), MapRule::PluggedBlocks);
  EXPECT_EQ(accessible->map_rule(), MapRule::UsableRegion);
  EXPECT_EQ(inaccessible->layout(TiB, 2 * MiB, 256), (MemslotLayout{TiB, 4 * GiB, 256}));
}

TEST(MemslotPolicy, DynamicUsesTheMachineLimit) {
  const auto policy = policy_for(MemslotMode::Dynamic);
  EXPECT_TRUE(policy->decides_automatically());
  EXPECT_EQ(policy->map_rule(), MapRule::PluggedBlocks);
  EXPECT_EQ(policy->layout(TiB, 2 * MiB, 256), (MemslotLayout{TiB, 4 * GiB, 256}));
  EXPECT_EQ(policy->layout(TiB, 2 * MiB, 1), (MemslotLayout{TiB, TiB, 1}));
  // At most one memslot per GiB.
  EXPECT_EQ(policy->layout(4 * GiB, 2 * MiB, 256), (MemslotLayout{4 * GiB, GiB, 4}));
}

// Both automatic modes pass the region, the block size and the machine's
// limit in their places: 100 GiB over at most 7 memslots is 14.28 GiB per
// memslot, rounded up to the 2 MiB block (not to the 1 GiB minimum).
TEST(MemslotPolicy, AutomaticSlotSizeRoundsUpToTheBlock) {
  for (const auto mode : {MemslotMode::Multiple, MemslotMode::Dynamic}) {
    const auto policy = policy_for(mode);
    EXPECT_EQ(policy->layout(100 * GiB, 2 * MiB, 7), (MemslotLayout{100 * GiB, 7315 * 2 * MiB, 7})) << name(mode);
  }
}

TEST(MemslotPolicy, FixedUsesItsSlotSize) {
  const auto policy = policy_for(MemslotMode::Fixed);
  EXPECT_FALSE(policy->decides_automatically());
  EXPECT_EQ(policy->map_rule(), MapRule::PluggedBlocks);
  EXPECT_EQ(policy->layout(GiB, 2 * MiB, 256), (MemslotLayout{GiB, 128 * MiB, 8}));
}

TEST(MemslotPolicy, LayoutOffsetsLengthsAndTouchedSlots) {
  const MemslotLayout layout{2 * GiB + 512 * MiB, GiB, 3};
  EXPECT_EQ(layout.offset(0), 0u);
  EXPECT_EQ(layout.offset(2), 2 * GiB);
  EXPECT_EQ(layout.length(0), GiB);
  EXPECT_EQ(layout.length(2), 512 * MiB);  // the last one is shorter
}

TEST(MemslotPolicy, Constants) {
  EXPECT_EQ(kMinAutoMemslotSize, GiB);
  EXPECT_EQ(kMinCountMemslotAlign, 128 * MiB);
}

}  // namespace
}  // namespace vmemcheck
