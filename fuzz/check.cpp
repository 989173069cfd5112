#include "check.hpp"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "scenario_runner.hpp"

namespace vmemcheck::fuzz {

void run_checked(Target target, std::span<const uint8_t> bytes, Platform* platform) {
  const scenario::Scenario s = decode(target, bytes);
  scenario::RunOptions options;
  options.platform = platform;
  options.describe_steps = false;
  scenario::Runner runner(options);
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const scenario::StepReport report = runner.step(s.steps[i]);
    if (report.problems.empty()) continue;
    std::string text;
    for (size_t j = 0; j <= i; ++j) text += scenario::to_text(s.steps[j].op) + "\n";
    fmt::print(stderr, "vmemcheck fuzz_{}: step {} ({} -> {}) found:\n", name(target), i + 1, scenario::to_text(s.steps[i].op),
               report.outcome);
    for (const auto& problem : report.problems) fmt::print(stderr, "  {}\n", problem);
    fmt::print(stderr, "scenario so far:\n{}replay the crashing input with: vmemcheck replay --target {} FILE\n", text,
               name(target));
    std::abort();
  }
}

}  // namespace vmemcheck::fuzz
