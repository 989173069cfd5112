// The golden scenarios, the regression corpus and random op sequences on
// real KVM in lockstep with the shadow model: every memslot call must get the
// same answer from both, and every check of the shadow-only runs still holds
// with a real vCPU reading guest memory.
#include "embedded_scenarios.hpp"
#include "kvm_fixture.hpp"
#include "random_scenario.hpp"

namespace vmemcheck::kvm {
namespace {

class Scenarios : public KvmTest {};

TEST_F(Scenarios, GoldenAndRegressionScenariosRunInLockstep) {
  ASSERT_GE(embedded_scenarios().size(), 10u);
  for (const auto& [name, text] : embedded_scenarios()) {
    const auto problems = run_on_kvm(std::string(text), std::string(name));
    for (const auto& problem : problems) ADD_FAILURE() << problem;
  }
}

// 1,000 random sequences over every memslot mode, with faults, migrations
// and resets. Shorter than the soak's so the suite fits CI under TCG.
TEST_F(Scenarios, RandomSequencesRunInLockstep) {
  constexpr uint64_t kSequences = 1000;
  constexpr uint64_t kFirstSeed = 7'000'000;
  // KVM's metadata for up to 3 devices x 2 address spaces must fit the guest's RAM.
  constexpr uint64_t kMaxDeviceSize = uint64_t{64} << 30;
  KvmPlatform platform;
  scenario::RunOptions options;
  options.platform = &platform;
  uint64_t steps = 0;
  for (uint64_t seed = kFirstSeed; seed < kFirstSeed + kSequences; ++seed) {
    const auto sequence = scenario::random_scenario(seed, {40, 4096, kMaxDeviceSize});
    scenario::Runner runner(options);
    for (const auto& step : sequence.steps) {
      const auto report = runner.step(step);
      ++steps;
      ASSERT_TRUE(report.problems.empty()) << "seed " << seed << " line " << step.line << " (" << report.op_text
                                           << "): " << report.problems.front()
                                           << "\nreplay: vmemcheck soak --seed " << seed << " --scenarios 1 --ops 40";
    }
  }
  std::printf("%llu random sequences, %llu steps in lockstep\n", static_cast<unsigned long long>(kSequences),
              static_cast<unsigned long long>(steps));
}

}  // namespace
}  // namespace vmemcheck::kvm
