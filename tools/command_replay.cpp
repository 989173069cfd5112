// vmemcheck replay FILE: runs a fuzzer input (decoded by core/fuzz_decoder)
// or a text scenario step by step, printing each step, the devices' state
// after it, and stopping at the first problem. vmemcheck convert FILE: the
// text scenario a fuzzer input decodes to.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>

#include <fmt/format.h>

#include "commands.hpp"
#include "fuzz_decoder.hpp"
#include "scenario_runner.hpp"

namespace vmemcheck::cli {
namespace {

std::string target_names() {
  std::string out;
  for (fuzz::Target t : fuzz::kTargets) out += (out.empty() ? "" : ", ") + std::string(fuzz::name(t));
  return out;
}

CLI::Validator target_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return fuzz::parse_target(text) ? "" : "'" + text + "' is not a fuzz target (" + target_names() + ")";
      },
      "TARGET");
}

// The target an input belongs to: given, or the corpus directory it sits in
// (corpus/<target>/...), else ops.
fuzz::Target target_of(const std::string& given, const std::string& file) {
  if (!given.empty()) return *fuzz::parse_target(given);
  for (auto dir = std::filesystem::path(file).parent_path(); !dir.empty() && dir != dir.parent_path();
       dir = dir.parent_path()) {
    if (auto t = fuzz::parse_target(dir.filename().string())) return *t;
  }
  return fuzz::Target::Ops;
}

Result<std::vector<uint8_t>> read_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open the file", file)};
  return std::vector<uint8_t>{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A text scenario when the file parses as one (and no target was forced),
// else a fuzzer input of the target.
Result<scenario::Scenario> load(const std::string& file, const std::string& target, bool force_binary,
                                std::string& kind) {
  auto bytes = read_bytes(file);
  if (!bytes) return bytes.error();
  if (!force_binary) {
    const std::string_view text(reinterpret_cast<const char*>(bytes->data()), bytes->size());
    if (auto parsed = scenario::parse(text, file); parsed && !parsed->steps.empty()) {
      kind = "text scenario";
      return parsed;
    }
  }
  const fuzz::Target t = target_of(target, file);
  kind = fmt::format("{}-byte input of the {} target", bytes->size(), fuzz::name(t));
  return fuzz::decode(t, *bytes);
}

std::string state_of(const scenario::Runner& runner) {
  if (!runner.machine()) return "no machine";
  std::string out;
  for (const VirtioMemDevice* d : runner.machine()->devices()) {
    const ConfigSpace c = d->config_space();
    out += fmt::format("{}{}: usable={:#x} plugged={:#x} requested={:#x} mapped {}/{}{}{}", out.empty() ? "" : "; ",
                       d->config().id, c.usable_region_size, c.plugged_size, c.requested_size,
                       d->mapped_slot_count(), d->layout().count, d->busy() ? " busy" : "",
                       d->needs_reset() ? " NEEDS-RESET" : "");
  }
  return out.empty() ? "no devices" : out;
}

}  // namespace

Command add_replay_command(CLI::App& app) {
  struct Options {
    std::string file;
    std::string target;
    bool no_model = false;
    bool no_invariants = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "replay",
      "Replay a fuzzer input (e.g. a crash-* file of a fuzz target) or a text scenario step by\n"
      "step: print each decoded step with its outcome, the devices' state after it (usable,\n"
      "plugged and requested size, mapped memslots, error state), and stop at the first problem\n"
      "(a reference-model mismatch or a broken invariant), printing what differs.\n"
      "Exit status 1 when a problem was found.");
  cmd->add_option("FILE", options->file, "Fuzzer input or text scenario")->required()->check(CLI::ExistingFile);
  cmd->add_option("-t,--target", options->target,
                  "Fuzz target that made the input (" + target_names() +
                      "); default: the corpus/<target>/ directory the file is in, else ops")
      ->check(target_validator());
  cmd->add_flag("--no-model", options->no_model, "Do not compare against the reference model");
  cmd->add_flag("--no-invariants", options->no_invariants, "Do not check DESIGN §3's invariants");
  return [options]() {
    std::string kind;
    auto loaded = load(options->file, options->target, !options->target.empty(), kind);
    if (!loaded) {
      std::cerr << "vmemcheck replay: " << loaded.error().message << "\n";
      return 2;
    }
    fmt::print("{}: {}, {} steps\n", options->file, kind, loaded->steps.size());
    scenario::Runner runner({!options->no_model, !options->no_invariants});
    for (size_t i = 0; i < loaded->steps.size(); ++i) {
      const scenario::StepReport report = runner.step(loaded->steps[i]);
      fmt::print("{:>4}  {} -> {}\n", i + 1, report.op_text, report.outcome);
      if (!report.output.empty()) fmt::print("{}", report.output);
      fmt::print("      state: {}\n", state_of(runner));
      if (report.problems.empty()) continue;
      fmt::print("FIRST PROBLEM at step {} ({}):\n", i + 1, report.op_text);
      for (const auto& problem : report.problems) fmt::print("  {}\n", problem);
      return 1;
    }
    fmt::print("no problem in {} steps\n", loaded->steps.size());
    return 0;
  };
}

Command add_convert_command(CLI::App& app) {
  struct Options {
    std::string file;
    std::string target;
    std::string output;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "convert",
      "Convert a fuzzer input into the text scenario it decodes to (core/fuzz_decoder), for\n"
      "'vmemcheck run', editing, or a regression file in corpus/regressions/.");
  cmd->add_option("FILE", options->file, "Fuzzer input")->required()->check(CLI::ExistingFile);
  cmd->add_option("-t,--target", options->target,
                  "Fuzz target of the input (" + target_names() +
                      "); default: the corpus/<target>/ directory the file is in, else ops")
      ->check(target_validator());
  cmd->add_option("-o,--output", options->output, "Write the scenario here instead of standard output");
  return [options]() {
    auto bytes = read_bytes(options->file);
    if (!bytes) {
      std::cerr << "vmemcheck convert: " << bytes.error().message << "\n";
      return 2;
    }
    const fuzz::Target target = target_of(options->target, options->file);
    const std::string text = fmt::format("# {} ({} bytes) decoded by the {} fuzz target\n{}", options->file,
                                         bytes->size(), fuzz::name(target),
                                         scenario::to_text(fuzz::decode(target, *bytes)));
    if (options->output.empty()) {
      fmt::print("{}", text);
      return 0;
    }
    std::ofstream out(options->output, std::ios::binary);
    out << text;
    if (!out) {
      std::cerr << "vmemcheck convert: cannot write " << options->output << "\n";
      return 2;
    }
    return 0;
  };
}

}  // namespace vmemcheck::cli
