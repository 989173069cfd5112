// The one loop over devices under test: a third device plugs in as an
// implementation of DeviceUnderTest, and run_compared compares it with no
// loop of its own; skips are counted per reason; a device that cannot be
// driven ends the run with an error, not a difference.
#include "compared_run.hpp"

#include <gtest/gtest.h>

#include <array>

#include "core_device_under_test.hpp"
#include "planted_difference.hpp"

namespace vmemcheck::scenario {
namespace {

Scenario parsed(const char* text) {
  auto scenario = parse(text, "t.vmem");
  EXPECT_TRUE(scenario) << scenario.error().message;
  return *scenario;
}

// A 4 GiB dynamic device: plug 1 GiB, then ask for the state of a block
// that stays unplugged (the planted response difference answers PLUGGED).
constexpr const char* kPlugThenState =
    "machine size=8G\n"
    "device vmem0 size=4G requested=2G mode=dynamic\n"
    "plug vmem0 +0 512\n"
    "state vmem0 +1G 1\n"
    "unplug vmem0 +0 512\n";

constexpr ComparedRunOptions kCompare{.check_expectations = false, .stop_at_first_difference = true};

TEST(ComparedRun, TwoCoresAgreeOnEveryStep) {
  CoreDeviceUnderTest a, b;
  const std::array<DeviceUnderTest*, 2> devices{&a, &b};
  const ComparedRun run = run_compared(parsed(kPlugThenState), devices, kCompare);
  EXPECT_FALSE(run.error);
  EXPECT_FALSE(run.difference) << describe(*run.difference);
  EXPECT_EQ(run.compared, 5u);
  EXPECT_EQ(run.memslot_listings, 4u);  // after every op once the device exists
  EXPECT_EQ(run.tallies[0].digest, run.tallies[1].digest);
}

TEST(ComparedRun, AThirdDeviceUnderTestWithAPlantedBugIsCaught) {
  CoreDeviceUnderTest first, second, third;
  PlantedDifference planted(third, Plant::Response);
  const std::array<DeviceUnderTest*, 3> devices{&first, &second, &planted};
  const ComparedRun run = run_compared(parsed(kPlugThenState), devices, kCompare);
  ASSERT_TRUE(run.difference);
  EXPECT_EQ(run.difference->step, 3u);
  EXPECT_EQ(run.difference->line, 4);
  EXPECT_EQ(run.difference->what, "response");
  EXPECT_EQ(run.difference->first, "ACK UNPLUGGED");
  EXPECT_EQ(run.difference->other, "ACK PLUGGED");
  EXPECT_EQ(run.steps, 4u) << "the first difference ends the run";
}

TEST(ComparedRun, APlantedMemslotShowsBothListings) {
  CoreDeviceUnderTest first, second;
  PlantedDifference planted(second, Plant::Memslot);
  const std::array<DeviceUnderTest*, 2> devices{&first, &planted};
  const ComparedRun run = run_compared(parsed(kPlugThenState), devices, kCompare);
  ASSERT_TRUE(run.difference);
  EXPECT_EQ(run.difference->what, "memslots (info mtree)");
  EXPECT_EQ(run.difference->first,
            "0000000140000000-000000023fffffff (prio 0, i/o): virtio-mem\n"
            "  0000000140000000-000000017fffffff (prio 0, ram): alias memslot-0 @mem0 0000000000000000-000000003fffffff");
  EXPECT_NE(run.difference->other.find("alias memslot-1 @mem0 0000000040000000-000000007fffffff"), std::string::npos)
      << run.difference->other;
}

// A device under test that runs only requests, answers them like the core
// would not (always BUSY), or fails to be driven on resize.
class RequestsOnly final : public DeviceUnderTest {
 public:
  std::string label() const override { return "fake"; }
  std::optional<std::string> unsupported(const Op& op, const FirstDevice*) const override {
    if (std::holds_alternative<GuestRequest>(op) || std::holds_alternative<Resize>(op)) return std::nullopt;
    return std::holds_alternative<ShowMtree>(op) ? "no tree" : "not a request";
  }
  Result<Outcome> apply(const Step& step, const FirstDevice*) override {
    if (std::holds_alternative<Resize>(step.op)) return Error{"the fake device died"};
    return Outcome::answered(Response{ResponseType::Busy, BlockState::Plugged}, false);
  }
  Result<std::optional<DeviceSnapshot>> snapshot(const std::string&) override { return std::optional<DeviceSnapshot>(); }
};

TEST(ComparedRun, SkipsAreCountedPerReasonAndRunNowhere) {
  CoreDeviceUnderTest core;
  RequestsOnly fake;
  const std::array<DeviceUnderTest*, 2> devices{&core, &fake};
  const ComparedRun run = run_compared(parsed("machine\ndevice vmem0 size=1G\nmtree\nmtree\nplug vmem0 +0 1\n"), devices, kCompare);
  EXPECT_EQ(run.skipped, 4u);
  EXPECT_EQ(run.skipped_reasons.at("not a request"), 2u);
  EXPECT_EQ(run.skipped_reasons.at("no tree"), 2u);
  EXPECT_EQ(run.skipped_kinds.at("mtree"), 2u);
  EXPECT_FALSE(core.runner().machine()->find("vmem0")) << "a skipped device is added nowhere";
  ASSERT_TRUE(run.difference);
  EXPECT_EQ(run.difference->what, "response");
  EXPECT_EQ(run.difference->other, "BUSY");
}

TEST(ComparedRun, ADeviceThatCannotBeDrivenEndsTheRunWithAnError) {
  CoreDeviceUnderTest core;
  RequestsOnly fake;
  const std::array<DeviceUnderTest*, 2> devices{&core, &fake};
  const ComparedRun run = run_compared(parsed("resize vmem0 0\nresize vmem0 0\n"), devices, kCompare);
  ASSERT_TRUE(run.error);
  EXPECT_EQ(*run.error, "step 1: resize vmem0 0: the fake device died");
  EXPECT_FALSE(run.difference);
  EXPECT_EQ(run.steps, 1u);
}

TEST(ComparedRun, AloneTheCoreReportsEveryProblemAndGoesOn) {
  CoreDeviceUnderTest core;
  const std::array<DeviceUnderTest*, 1> devices{&core};
  const ComparedRun run = run_compared(parsed("device vmem0 size=2M requested=2M\nplug vmem0 +0 1 => NACK\n"
                                              "plug vmem0 +0 1 => ACK\n"),
                                       devices, {.check_expectations = true, .stop_at_first_difference = false});
  EXPECT_EQ(run.steps, 3u);
  EXPECT_EQ(run.problems, 2u);
  EXPECT_FALSE(run.difference) << "one device under test has nothing to differ from";
}

}  // namespace
}  // namespace vmemcheck::scenario
