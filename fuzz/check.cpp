#include "check.hpp"

#include <cstdio>
#include <cstdlib>

#include <fmt/format.h>

#include "scenario_runner.hpp"

namespace vmemcheck::fuzz {
namespace {

// Replay, convert and minimize show inputs as text: the steps that carry
// sizes, addresses, architectures and memslot options must parse back to
// themselves (the other kinds hold plain numbers and names).
bool carries_sizes(const scenario::Op& op) {
  return std::holds_alternative<scenario::ConfigureMachine>(op) || std::holds_alternative<scenario::AddDevice>(op) ||
         std::holds_alternative<scenario::Resize>(op) || std::holds_alternative<scenario::Migrate>(op);
}

void check_text_form(const scenario::Op& op, std::vector<std::string>& problems) {
  const std::string text = scenario::to_text(op);
  const auto parsed = scenario::parse(text, "<text form>");
  if (!parsed) {
    problems.push_back(fmt::format("the text form '{}' does not parse: {}", text, parsed.error().message));
  } else if (parsed->steps.size() != 1 || parsed->steps[0].op != op) {
    problems.push_back(fmt::format("the text form '{}' parses to another operation", text));
  }
}

}  // namespace

void run_checked(Target target, std::span<const uint8_t> bytes, Platform* platform) {
  const scenario::Scenario s = decode(target, bytes);
  scenario::RunOptions options;
  options.platform = platform;
  options.describe_steps = false;
  scenario::Runner runner(options);
  for (size_t i = 0; i < s.steps.size(); ++i) {
    scenario::StepReport report = runner.step(s.steps[i]);
    if (carries_sizes(s.steps[i].op)) check_text_form(s.steps[i].op, report.problems);
    if (report.problems.empty()) continue;
    std::string text;
    for (size_t j = 0; j <= i; ++j) text += scenario::to_text(s.steps[j].op) + "\n";
    fmt::print(stderr, "vmemcheck fuzz_{}: step {} ({} -> {}) found:\n", name(target), i + 1, scenario::to_text(s.steps[i].op),
               scenario::to_text(report.outcome));
    for (const auto& problem : report.problems) fmt::print(stderr, "  {}\n", problem);
    fmt::print(stderr, "scenario so far:\n{}replay the crashing input with: vmemcheck replay --target {} FILE\n", text,
               name(target));
    std::abort();
  }
}

}  // namespace vmemcheck::fuzz
