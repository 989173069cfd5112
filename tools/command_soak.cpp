// vmemcheck soak: random scenarios (core/random_scenario) run against the
// reference model and the invariants until a time or scenario budget runs
// out; every finding is written out as a replayable scenario.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "random_scenario.hpp"
#include "scenario_runner.hpp"

namespace vmemcheck::cli {

Command add_soak_command(CLI::App& app) {
  struct Options {
    double seconds = 60;
    uint64_t scenarios = 0;
    uint64_t ops = 200;
    uint64_t seed = 1;
    std::string findings = "findings";
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "soak",
      "Run random scenarios (every memslot mode, faults, migrations, resets) on the core against\n"
      "the reference model and the invariants. Prints progress each second; writes each finding\n"
      "as FINDINGS/soak-SEED.vmem, replayable with 'vmemcheck run'. Exit status 1 on findings.");
  cmd->add_option("--seconds", options->seconds, "Time budget in seconds")->check(positive_seconds_validator())->capture_default_str();
  cmd->add_option("--scenarios", options->scenarios, "Stop after this many scenarios (0: no limit)")->capture_default_str();
  cmd->add_option("--ops", options->ops, "Operations per scenario")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--seed", options->seed, "First seed; scenario i uses seed + i")->capture_default_str();
  cmd->add_option("--findings", options->findings, "Directory for findings")->capture_default_str();
  return [options]() {
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    auto last_progress = start;
    uint64_t scenarios = 0, ops = 0, findings = 0;
    const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    while (elapsed() < options->seconds && (options->scenarios == 0 || scenarios < options->scenarios)) {
      const uint64_t seed = options->seed + scenarios;
      const auto scenario = scenario::random_scenario(seed, {options->ops, 16384});
      scenario::Runner runner;
      for (size_t i = 0; i < scenario.steps.size(); ++i) {
        const auto report = runner.step(scenario.steps[i]);
        ++ops;
        if (report.problems.empty()) continue;
        ++findings;
        std::filesystem::create_directories(options->findings);
        const auto path = std::filesystem::path(options->findings) / fmt::format("soak-{}.vmem", seed);
        std::ofstream out(path);
        out << fmt::format("# vmemcheck soak finding, seed {}, step {}:\n", seed, i + 1);
        for (const auto& problem : report.problems) out << "#   " << problem << "\n";
        scenario::Scenario prefix{scenario.name, {scenario.steps.begin(), scenario.steps.begin() + static_cast<long>(i) + 1}};
        out << scenario::to_text(prefix);
        fmt::print("finding: seed {} step {}: {}\n  replay: vmemcheck run {}\n", seed, i + 1, report.problems.front(),
                   path.string());
        break;
      }
      ++scenarios;
      if (Clock::now() - last_progress >= std::chrono::seconds(1)) {
        last_progress = Clock::now();
        fmt::print("[{:6.1f}s] {} scenarios, {} ops, {:.0f} ops/s, {} findings\n", elapsed(), scenarios, ops,
                   static_cast<double>(ops) / elapsed(), findings);
        std::fflush(stdout);
      }
    }
    fmt::print("soak done: {} scenarios, {} ops in {:.1f}s ({:.0f} ops/s), {} findings\n", scenarios, ops, elapsed(),
               static_cast<double>(ops) / std::max(elapsed(), 1e-9), findings);
    return findings == 0 ? 0 : 1;
  };
}

}  // namespace vmemcheck::cli
