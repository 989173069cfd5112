// Policy comparisons: runs are replayable scenarios, and the figures follow
// from the layouts (the static policy costs what `vmemcheck metadata` says).
#include "policy_comparison.hpp"

#include <gtest/gtest.h>

#include <array>

#include "compared_run.hpp"
#include "core_device_under_test.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {
namespace {

ComparisonGeometry small() {
  ComparisonGeometry g;
  g.region_size = 64 * GiB;
  return g;
}

TEST(PolicyComparison, RunsReplayAsScenariosWithoutProblems) {
  const ComparisonGeometry g = small();
  for (const auto& policy : default_policies(g.region_size)) {
    const auto result = run_policy(policy, WorkloadKind::MigrateMidway, {g.region_size, g.block_size, 0, 1}, g);
    ASSERT_TRUE(result) << result.error().message;
    const auto replayed = scenario::parse(scenario::to_text(result->scenario), result->scenario.name);
    ASSERT_TRUE(replayed) << replayed.error().message;
    size_t problems = 0;
    scenario::CoreDeviceUnderTest core;
    const std::array<scenario::DeviceUnderTest*, 1> devices{&core};
    const auto run = scenario::run_compared(*replayed, devices, {.check_expectations = true, .stop_at_first_difference = false},
                                            [&](const scenario::ComparedStep& step) {
      for (const auto& problem : step.problems) {
        if (++problems < 5) ADD_FAILURE() << policy.label << " line " << step.line << ": " << problem;
      }
    });
    EXPECT_FALSE(run.error) << run.error.value_or("");
    EXPECT_EQ(problems, 0u) << policy.label;
    EXPECT_GT(result->driver.busy, 0u) << "the migration window answers BUSY";
  }
}

TEST(PolicyComparison, StaticCostsOneMemslotOfTheWholeRegion) {
  ComparisonGeometry g;  // 1 TiB at 4 GiB, as `vmemcheck metadata`
  const auto result =
      run_policy(default_policies(g.region_size)[0], WorkloadKind::GrowShrink, {g.region_size, g.block_size, 0, 1}, g);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->policy.label, "static");
  EXPECT_EQ(result->peak_slots, 1u);
  EXPECT_EQ(result->peak_metadata, slot_metadata(g.gpa, g.region_size, MetadataModel{}).total());
  EXPECT_EQ(result->peak_metadata, result->series.back().metadata);
}

TEST(PolicyComparison, DynamicPoliciesExposeLessThanUsableRegionPolicies) {
  const ComparisonGeometry g = small();
  uint64_t usable_exposure = 0, dynamic_exposure = UINT64_MAX, fixed_exposure = UINT64_MAX;
  for (const auto& policy : default_policies(g.region_size)) {
    const auto r = run_policy(policy, WorkloadKind::GrowShrink, {g.region_size, g.block_size, 0, 1}, g);
    ASSERT_TRUE(r);
    if (policy.label == "v1-usable") usable_exposure = r->peak_exposure;
    if (policy.label == "v4-dynamic") dynamic_exposure = r->peak_exposure;
    if (policy.label == "fixed-128M") fixed_exposure = r->peak_exposure;
  }
  EXPECT_LT(dynamic_exposure, usable_exposure);
  // The driver plugs whole 128 MiB memory blocks: fixed 128 MiB slots never expose anything.
  EXPECT_EQ(fixed_exposure, 0u);
}

TEST(PolicyComparison, ParsesPolicies) {
  EXPECT_EQ(parse_policy("v4-dynamic", TiB)->mode, MemslotMode::Dynamic);
  EXPECT_EQ(parse_policy("fixed-1G", TiB)->slot_size, GiB);
  EXPECT_FALSE(parse_policy("fixed-x", TiB));
  EXPECT_NE(parse_policy("best", TiB).error().message.find("unknown policy 'best'"), std::string::npos);
}

}  // namespace
}  // namespace vmemcheck
