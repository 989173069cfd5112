// The property test: random op sequences drive the core and the
// reference model side by side; after every step the runner compares
// responses, config space, error state and mapped memslots, and checks
// DESIGN §3's invariants. CI runs more than 10^6 operations (about 2 s).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "random_scenario.hpp"
#include "scenario.hpp"
#include "scenario_runner.hpp"

namespace vmemcheck::scenario {
namespace {

// Seeds far from the soak command's default range, so both add coverage.
constexpr uint64_t kFirstSeed = 1'000'000;
constexpr uint64_t kOpsPerScenario = 200;

// 5000 scenarios (10^6 operations); scripts/mutate runs it once per mutant
// and asks for fewer with VMEMCHECK_PROPERTY_SCENARIOS.
uint64_t scenario_count() {
  const char* text = std::getenv("VMEMCHECK_PROPERTY_SCENARIOS");
  return text ? std::strtoull(text, nullptr, 10) : 5000;
}

// An outcome's kind: the response of a request ("ACK", "NACK", "BUSY",
// "ERROR", "none" when unanswered), "ok", "error", "read", "unmapped", ...
std::string outcome_kind(const Outcome& outcome) {
  switch (outcome.kind) {
    case Outcome::Kind::Answered:
      if (outcome.answers.empty()) return "fault";
      return outcome.answers.front().response ? std::string(name(outcome.answers.front().response->type)) : "none";
    case Outcome::Kind::Refused: return "error";
    case Outcome::Kind::Read: return "read";
    default: {
      const std::string text = to_text(outcome);
      return text.substr(0, text.find(' '));
    }
  }
}

TEST(Property, CoreAgreesWithTheReferenceModelAndTheInvariants) {
  uint64_t ops = 0;
  SequenceCounts sequences;
  std::map<std::string, uint64_t> outcomes;
  std::set<MemslotMode> modes;
  const uint64_t scenarios = scenario_count();
  for (uint64_t seed = kFirstSeed; seed < kFirstSeed + scenarios; ++seed) {
    const Scenario scenario = random_scenario(seed, {kOpsPerScenario, 16384});
    Runner runner;
    for (size_t i = 0; i < scenario.steps.size(); ++i) {
      const StepReport report = runner.step(scenario.steps[i]);
      ++ops;
      ++outcomes[outcome_kind(report.outcome)];
      if (const auto* add = std::get_if<AddDevice>(&scenario.steps[i].op); add && report.outcome.is_ok()) {
        modes.insert(add->config.mode);
      }
      ASSERT_TRUE(report.problems.empty())
          << "seed " << seed << ", step " << i + 1 << " (" << report.op_text << "): " << report.problems.front()
          << "\nreplay with: vmemcheck soak --seed " << seed << " --scenarios 1";
    }
    sequences.write_unplug_plug_read += runner.census().counts().write_unplug_plug_read;
    sequences.remove_with_plugged += runner.census().counts().remove_with_plugged;
  }
  EXPECT_GE(ops, scenarios * kOpsPerScenario);
  // The sequences must reach every response and every memslot mode, or the
  // comparison above proves little.
  for (const char* kind : {"ACK", "NACK", "BUSY", "ERROR", "none", "ok", "read", "unmapped", "armed"}) {
    EXPECT_GT(outcomes[kind], 0u) << "no step had outcome " << kind;
  }
  EXPECT_EQ(modes.size(), 5u) << "not every memslot mode was exercised";
  // Where unplugged memory comes back, and the refusal of a remove, are
  // checked only when reached: at least 1,000 times per 10^6 operations.
  const auto per_million = [&](uint64_t count) { return count * 1'000'000 / ops; };
  EXPECT_GE(per_million(sequences.write_unplug_plug_read), 1000u) << "write, unplug, plug, read too rare";
  EXPECT_GE(per_million(sequences.remove_with_plugged), 1000u) << "remove with plugged blocks too rare";
  std::printf("per 10^6 ops: write-unplug-plug-read %llu, remove-with-plugged %llu\n",
              static_cast<unsigned long long>(per_million(sequences.write_unplug_plug_read)),
              static_cast<unsigned long long>(per_million(sequences.remove_with_plugged)));
  std::string histogram;
  for (const auto& [kind, count] : outcomes) histogram += fmt::format(" {}={}", kind, count);
  RecordProperty("outcomes", histogram);
  std::printf("%llu ops, outcomes:%s\n", static_cast<unsigned long long>(ops), histogram.c_str());
}

// Replay depends on it: every random scenario survives its own text form.
TEST(Property, RandomScenariosRoundTripThroughText) {
  for (uint64_t seed = kFirstSeed; seed < kFirstSeed + 200; ++seed) {
    const Scenario scenario = random_scenario(seed, {kOpsPerScenario, 16384});
    const auto parsed = parse(to_text(scenario), "<round-trip>");
    ASSERT_TRUE(parsed) << "seed " << seed << ": " << parsed.error().message;
    ASSERT_EQ(parsed->steps.size(), scenario.steps.size()) << "seed " << seed;
    for (size_t i = 0; i < scenario.steps.size(); ++i) {
      EXPECT_EQ(parsed->steps[i].op, scenario.steps[i].op) << "seed " << seed << " step " << i + 1 << ": "
                                                           << to_text(scenario.steps[i].op);
    }
  }
}

}  // namespace
}  // namespace vmemcheck::scenario
