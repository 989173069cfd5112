// The minimizer: it keeps the first problem (numbers masked), drops every
// step and option that failure does not need, is deterministic, and refuses a
// scenario that does not fail.
#include "minimize.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "units.hpp"

namespace vmemcheck::scenario {
namespace {

Scenario parsed(std::string_view text) {
  auto scenario = parse(text, "t.vmem");
  EXPECT_TRUE(scenario) << scenario.error().message;
  return scenario ? *scenario : Scenario{};
}

// A plug that is acknowledged, wrongly expected to be refused, among steps
// that have nothing to do with it.
constexpr std::string_view kNoisyFailure =
    "machine size=4T numa-nodes=2\n"
    "device vmem0 size=64G block=4M requested=16G mode=dynamic node=1\n"
    "device vmem1 size=8G requested=2G mode=count memslots=8\n"
    "plug vmem1 +0 4 => ACK\n"
    "state vmem1 +0 8 => ACK MIXED\n"
    "resize vmem1 4G\n"
    "plug vmem0 +512M 3 => ACK\n"
    "unplug vmem0 +512M 1 => ACK\n"
    "mtree\n"
    "plug vmem0 +1G 2 => NACK\n"
    "unplug-all vmem1\n"
    "state vmem0 +0 1\n";

TEST(Minimize, FailureKeyMasksEveryNumber) {
  EXPECT_EQ(failure_key("invariant 7 broken: plugged GPA 0xe2c0000000 of 'vmem0' reads 0x1b5b, expected 0x0"),
            "invariant N broken: plugged GPA N of 'vmemN' reads N, expected N");
  EXPECT_EQ(failure_key("memslot limit mismatch on device 'vmem1': core 11, model 10"),
            "memslot limit mismatch on device 'vmemN': core N, model N");
  EXPECT_NE(failure_key("response mismatch on device 'vmem0': core NACK, model ACK"),
            failure_key("response mismatch on device 'vmem0': core ACK, model NACK"));
}

TEST(Minimize, RefusesAScenarioThatDoesNotFail) {
  EXPECT_FALSE(first_failure(parsed("device vmem0 size=1G requested=1G\nplug vmem0 +0 1 => ACK\n")));
  EXPECT_FALSE(minimize(parsed("device vmem0 size=1G requested=1G\nplug vmem0 +0 1 => ACK\n")));
}

TEST(Minimize, FindsTheFirstProblem) {
  const auto failure = first_failure(parsed(kNoisyFailure));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->step, 9u);
  EXPECT_EQ(failure->problem, "expected outcome 'NACK', got 'ACK'");
}

TEST(Minimize, KeepsOnlyWhatTheFailureNeeds) {
  const auto minimized = minimize(parsed(kNoisyFailure));
  ASSERT_TRUE(minimized);
  EXPECT_EQ(minimized->failure.problem, "expected outcome 'NACK', got 'ACK'");
  // The failing plug needs its device and nothing else.
  ASSERT_EQ(minimized->scenario.steps.size(), 2u) << to_text(minimized->scenario);
  const auto& device = std::get<AddDevice>(minimized->scenario.steps[0].op).config;
  EXPECT_EQ(device.id, "vmem0");
  EXPECT_LT(device.region_size, 64 * GiB);
  EXPECT_EQ(device.block_size, 2 * MiB) << "the default block size";
  EXPECT_EQ(device.node, 0);
  EXPECT_EQ(device.mode, MemslotMode::Static) << "the default mode";
  const auto& plug = std::get<GuestRequest>(minimized->scenario.steps[1].op);
  EXPECT_EQ(plug.addr.value, 0u) << "lowest offset";
  EXPECT_EQ(plug.nb_blocks, 1) << "fewest blocks";
  EXPECT_EQ(minimized->scenario.steps[1].expected, "NACK");
}

TEST(Minimize, ResultRunsAsTextWithTheSameProblem) {
  const auto minimized = minimize(parsed(kNoisyFailure));
  ASSERT_TRUE(minimized);
  const auto failure = first_failure(parsed(to_text(minimized->scenario)));
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->problem, minimized->failure.problem);
  EXPECT_EQ(failure->step, minimized->scenario.steps.size() - 1);
}

TEST(Minimize, IsDeterministic) {
  const auto first = minimize(parsed(kNoisyFailure));
  const auto second = minimize(parsed(kNoisyFailure));
  ASSERT_TRUE(first && second);
  EXPECT_EQ(to_text(first->scenario), to_text(second->scenario));
  EXPECT_EQ(first->runs, second->runs);
}

// Shrinking a number must not trade the problem for another: a PLUG past the
// usable region is an ERROR, so the expected ACK fails differently and the
// request's offset cannot drop to where ACK would be "expected ... got 'ACK'".
TEST(Minimize, NeverTradesTheProblemForAnother) {
  const auto minimized = minimize(parsed("device vmem0 size=4G requested=1G\nplug vmem0 +3G 1 => ACK\n"));
  ASSERT_TRUE(minimized);
  EXPECT_EQ(minimized->failure.problem, "expected outcome 'ACK', got 'ERROR'");
  const auto& plug = std::get<GuestRequest>(minimized->scenario.steps.back().op);
  const auto& device = std::get<AddDevice>(minimized->scenario.steps.front().op).config;
  EXPECT_GE(plug.addr.value, device.requested_size) << to_text(minimized->scenario);
}

// The CLI's probe runs candidates in a child process and reports one that
// crashed the core as "crashed: signal N": a different failure, not kept.
TEST(Minimize, KeepsNoCandidateTheProbeSaysCrashed) {
  const FailureProbe crashes_without_mtree = [](const Scenario& candidate) -> std::optional<Failure> {
    const bool has_mtree = std::any_of(candidate.steps.begin(), candidate.steps.end(),
                                       [](const Step& s) { return std::holds_alternative<ShowMtree>(s.op); });
    if (!has_mtree) return Failure{candidate.steps.size() - 1, "crashed: signal 11"};
    return first_failure(candidate);
  };
  const auto minimized = minimize(parsed(kNoisyFailure), 200000, crashes_without_mtree);
  ASSERT_TRUE(minimized);
  EXPECT_EQ(minimized->failure.problem, "expected outcome 'NACK', got 'ACK'");
  ASSERT_EQ(minimized->scenario.steps.size(), 3u) << to_text(minimized->scenario);
  EXPECT_TRUE(std::holds_alternative<ShowMtree>(minimized->scenario.steps[1].op));
}

TEST(Minimize, StopsAtTheRunBudget) {
  const auto minimized = minimize(parsed(kNoisyFailure), 3);
  ASSERT_TRUE(minimized);
  EXPECT_LE(minimized->runs, 3u);
  EXPECT_EQ(failure_key(minimized->failure.problem), failure_key("expected outcome 'NACK', got 'ACK'"));
}

}  // namespace
}  // namespace vmemcheck::scenario
