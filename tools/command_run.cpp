// vmemcheck run FILE: executes a text scenario and prints each step.
#include <array>
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "compared_run.hpp"
#include "core_device_under_test.hpp"
#include "kvm_platform.hpp"
#include "real_kvm_vm.hpp"
#include "scenario_runner.hpp"

namespace vmemcheck::cli {

Command add_run_command(CLI::App& app) {
  struct Options {
    std::string file;
    bool quiet = false;
    bool no_model = false;
    bool no_invariants = false;
    std::string platform = "shadow";
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "run",
      "Run a scenario file: print each step's outcome (responses, errors), the 'mtree'/'slots'\n"
      "views it asks for, and every problem found after the step: a reference-model mismatch,\n"
      "a broken invariant, a failed '=> OUTCOME' or 'expect'. Exit status 1 when any problem.");
  cmd->add_option("FILE", options->file, "Scenario file (text form, see core/scenario/scenario.hpp)")->required()->check(CLI::ExistingFile);
  cmd->add_flag("-q,--quiet", options->quiet, "Print only views and problems");
  cmd->add_flag("--no-model", options->no_model, "Do not compare against the reference model");
  cmd->add_flag("--no-invariants", options->no_invariants, "Do not check DESIGN §3's invariants");
  cmd->add_option("--platform", options->platform,
                  "shadow: the shadow KVM model; kvm: real /dev/kvm in lockstep with the shadow, with a vCPU "
                  "reading guest memory")
      ->check(CLI::IsMember({"shadow", "kvm"}))
      ->capture_default_str();
  return [options]() {
    auto parsed = scenario::parse_file(options->file);
    if (!parsed) {
      std::cerr << "vmemcheck run: " << parsed.error().message << "\n";
      return 2;
    }
    kvm::KvmPlatform kvm_platform;
    scenario::RunOptions run_options{!options->no_model, !options->no_invariants, nullptr};
    if (options->platform == "kvm") {
      if (const Status usable = kvm::kvm_usable(); !usable) {
        std::cerr << "vmemcheck run: --platform kvm: " << usable.error().message << "\n";
        return 2;
      }
      run_options.platform = &kvm_platform;
    }
    scenario::CoreDeviceUnderTest core(run_options);
    const std::array<scenario::DeviceUnderTest*, 1> devices{&core};
    const auto summary = scenario::run_compared(
        *parsed, devices, {.check_expectations = true, .stop_at_first_difference = false},
        [&](const scenario::ComparedStep& step) {
          if (!options->quiet && !step.applied.empty()) {
            fmt::print("{:>4}  {} -> {}\n", step.line, step.op_text, to_text(step.applied[0].outcome));
          }
          if (!step.output.empty()) fmt::print("{}", step.output);
          for (const auto& problem : step.problems) fmt::print("FAIL line {}: {}\n", step.line, problem);
        });
    if (summary.error) {
      std::cerr << "vmemcheck run: " << *summary.error << "\n";
      return 2;
    }
    fmt::print("{}: {} steps, {} problem{}\n", options->file, summary.steps, summary.problems,
               summary.problems == 1 ? "" : "s");
    return summary.problems == 0 ? 0 : 1;
  };
}

}  // namespace vmemcheck::cli
