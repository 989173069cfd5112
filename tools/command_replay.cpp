// The commands that take a finding, a fuzzer input (decoded by
// core/scenario/fuzz_decoder) or a text scenario:
// vmemcheck replay FILE: runs it step by step, printing each step, the
// devices' state after it, and stopping at the first problem.
// vmemcheck convert FILE: the text scenario a fuzzer input decodes to.
// vmemcheck minimize FILE: the smallest scenario found that fails with the
// same first problem.
// vmemcheck triage FILE...: the first problem of each input, one line each.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <optional>
#include <string_view>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include "commands.hpp"
#include "fuzz_decoder.hpp"
#include "fuzz_target_option.hpp"
#include "minimize.hpp"
#include "scenario_runner.hpp"

namespace vmemcheck::cli {
namespace {

// FILE and --target, as replay, convert and minimize take them.
void add_input_options(CLI::App* cmd, std::string& file, std::string& target, const std::string& file_help) {
  cmd->add_option("FILE", file, file_help)->required()->check(CLI::ExistingFile);
  cmd->add_option("-t,--target", target,
                  "Fuzz target that made the input (" + target_names() +
                      "); default: the corpus/<target>/ directory the file is in, else ops")
      ->check(target_validator());
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

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) return Error{fmt::format("cannot write {}", path)};
  return ok_status();
}

// Where minimize writes by default: beside the input, "crash-1a2b" ->
// "crash-1a2b.min.vmem", "x.vmem" -> "x.min.vmem".
std::string minimized_path(const std::string& input) {
  std::filesystem::path path(input);
  if (path.extension() == ".vmem") path.replace_extension();
  return path.string() + ".min.vmem";
}

// first_failure in a child process: a candidate that crashes the core (a
// memory bug) comes back as the failure "crashed: signal N" instead of taking
// the minimizer down. The child reports "STEP\nPROBLEM" through a pipe.
std::optional<scenario::Failure> isolated_first_failure(const scenario::Scenario& candidate) {
  int fds[2];
  if (pipe(fds) != 0) return scenario::first_failure(candidate);
  std::fflush(nullptr);
  const pid_t child = fork();
  if (child < 0) {
    close(fds[0]);
    close(fds[1]);
    return scenario::first_failure(candidate);
  }
  if (child == 0) {
    close(fds[0]);
    const auto failure = scenario::first_failure(candidate);
    const std::string report = failure ? fmt::format("{}\n{}", failure->step, failure->problem) : "";
    for (size_t written = 0; written < report.size();) {
      const ssize_t n = write(fds[1], report.data() + written, report.size() - written);
      if (n <= 0) _exit(3);
      written += static_cast<size_t>(n);
    }
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buffer[4096];
  for (ssize_t n; (n = read(fds[0], buffer, sizeof buffer)) > 0;) report.append(buffer, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFSIGNALED(status)) {
    return scenario::Failure{candidate.steps.empty() ? 0 : candidate.steps.size() - 1,
                             fmt::format("crashed: signal {}", WTERMSIG(status))};
  }
  const size_t newline = report.find('\n');
  if (newline == std::string::npos) return std::nullopt;
  return scenario::Failure{std::stoul(report.substr(0, newline)), report.substr(newline + 1)};
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
  add_input_options(cmd, options->file, options->target, "Fuzzer input or text scenario");
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
      fmt::print("{:>4}  {} -> {}\n", i + 1, report.op_text, scenario::to_text(report.outcome));
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

Command add_triage_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> files;
    std::string target;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "triage",
      "The first problem of each of many inputs (crash files of a fuzzing campaign), in one\n"
      "process: one line per input, 'FILE<TAB>PROBLEM', where PROBLEM is the first problem of\n"
      "its first failing step, 'no problem', or 'crashed: signal N' (each input runs in a child\n"
      "process). Exit status 1 when any input fails.");
  cmd->add_option("FILE", options->files, "Fuzzer inputs or text scenarios")->required()->check(CLI::ExistingFile);
  cmd->add_option("-t,--target", options->target,
                  "Fuzz target that made the inputs (" + target_names() +
                      "); default: the corpus/<target>/ directory each file is in, else ops")
      ->check(target_validator());
  return [options]() {
    bool any_failed = false;
    for (const std::string& file : options->files) {
      std::string kind;
      auto loaded = load(file, options->target, !options->target.empty(), kind);
      if (!loaded) {
        std::cerr << "vmemcheck triage: " << loaded.error().message << "\n";
        return 2;
      }
      const auto failure = isolated_first_failure(*loaded);
      any_failed = any_failed || failure.has_value();
      fmt::print("{}\t{}\n", file, failure ? failure->problem : "no problem");
    }
    return any_failed ? 1 : 0;
  };
}

// What convert and minimize take: an input and where to write a scenario.
struct ConversionOptions {
  std::string file;
  std::string target;
  std::string output;
};

Command add_convert_command(CLI::App& app) {
  auto options = std::make_shared<ConversionOptions>();
  auto* cmd = app.add_subcommand(
      "convert",
      "Convert a fuzzer input into the text scenario it decodes to (core/fuzz_decoder), for\n"
      "'vmemcheck run', editing, or a regression file in corpus/regressions/.");
  add_input_options(cmd, options->file, options->target, "Fuzzer input");
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
    if (const Status written = write_text(options->output, text); !written) {
      std::cerr << "vmemcheck convert: " << written.error().message << "\n";
      return 2;
    }
    return 0;
  };
}

Command add_minimize_command(CLI::App& app) {
  auto options = std::make_shared<ConversionOptions>();
  auto* cmd = app.add_subcommand(
      "minimize",
      "Shrink a failing fuzzer input or text scenario to a small scenario that fails with the\n"
      "same first problem (numbers masked: the campaign's deduplication key). Delta debugging\n"
      "over the steps, then each step's numbers and device options towards defaults and\n"
      "smaller values; deterministic. Prints the step counts before and after and writes a\n"
      "scenario for 'vmemcheck run' and corpus/regressions/. Exit status 2 when the input\n"
      "does not fail.");
  add_input_options(cmd, options->file, options->target, "Fuzzer input (e.g. a crash file) or text scenario");
  cmd->add_option("-o,--output", options->output, "Where to write the scenario (default: FILE.min.vmem)");
  return [options]() {
    std::string kind;
    auto loaded = load(options->file, options->target, !options->target.empty(), kind);
    if (!loaded) {
      std::cerr << "vmemcheck minimize: " << loaded.error().message << "\n";
      return 2;
    }
    const auto minimized = scenario::minimize(*loaded, 200000, isolated_first_failure);
    if (!minimized) {
      std::cerr << fmt::format("vmemcheck minimize: {} ({}) does not fail: no problem in its {} steps, "
                               "nothing to minimize\n",
                               options->file, kind, loaded->steps.size());
      return 2;
    }
    const scenario::Failure& failure = minimized->failure;
    const std::string output = options->output.empty() ? minimized_path(options->file) : options->output;
    const std::string text = fmt::format(
        "# Minimized by vmemcheck minimize from {} ({}, {} steps).\n"
        "# First problem, at step {} ({}):\n#   {}\n"
        "# For corpus/regressions/: say here what it caught.\n{}",
        options->file, kind, loaded->steps.size(), failure.step + 1,
        scenario::to_text(minimized->scenario.steps[failure.step].op), failure.problem,
        scenario::to_text(minimized->scenario));
    if (const Status written = write_text(output, text); !written) {
      std::cerr << "vmemcheck minimize: " << written.error().message << "\n";
      return 2;
    }
    fmt::print("{}: {}\nsteps: {} before, {} after ({} candidate runs)\nfirst problem: {}\nwrote {} "
               "(vmemcheck run {})\n",
               options->file, kind, loaded->steps.size(), minimized->scenario.steps.size(), minimized->runs,
               failure.problem, output, output);
    return 0;
  };
}

}  // namespace vmemcheck::cli

namespace vmemcheck::cli {
namespace {

// The files of FILE arguments that are directories, sorted, beside the plain files.
std::vector<std::string> expand_inputs(const std::vector<std::string>& paths) {
  std::vector<std::string> files;
  for (const std::string& path : paths) {
    if (!std::filesystem::is_directory(path)) {
      files.push_back(path);
      continue;
    }
    std::vector<std::string> inside;
    for (const auto& entry : std::filesystem::directory_iterator(path)) {
      if (entry.is_regular_file()) inside.push_back(entry.path().string());
    }
    std::ranges::sort(inside);
    files.insert(files.end(), inside.begin(), inside.end());
  }
  return files;
}

}  // namespace

Command add_census_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> paths;
    std::string target;
    uint64_t at_least = 0;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "census",
      "How often inputs reach the sequences that the guest-data and host-side checks need:\n"
      "runs every input (fuzzer inputs or text scenarios; directories are read whole) on the\n"
      "core and counts the steps, write-unplug-plug-read sequences (a word written, its block\n"
      "unplugged and plugged again, then read) and removes of devices holding plugged blocks,\n"
      "in total and per 10^6 steps. Exit status 1 when a sequence is rarer than --at-least.");
  cmd->add_option("PATH", options->paths, "Fuzzer inputs, text scenarios or directories of them")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("-t,--target", options->target,
                  "Fuzz target that made the inputs (" + target_names() +
                      "); default: the corpus/<target>/ directory each file is in, else ops")
      ->check(target_validator());
  cmd->add_option("--at-least", options->at_least, "Fewest occurrences of each sequence per 10^6 steps")
      ->capture_default_str();
  return [options]() {
    scenario::SequenceCounts total;
    const auto files = expand_inputs(options->paths);
    for (const std::string& file : files) {
      std::string kind;
      auto loaded = load(file, options->target, !options->target.empty(), kind);
      if (!loaded) {
        std::cerr << "vmemcheck census: " << loaded.error().message << "\n";
        return 2;
      }
      scenario::Runner runner;
      for (const auto& step : loaded->steps) (void)runner.step(step);
      total.steps += runner.census().counts().steps;
      total.write_unplug_plug_read += runner.census().counts().write_unplug_plug_read;
      total.remove_with_plugged += runner.census().counts().remove_with_plugged;
    }
    const auto per_million = [&](uint64_t count) { return total.steps ? count * 1'000'000 / total.steps : 0; };
    fmt::print("{} inputs, {} steps\n", files.size(), total.steps);
    fmt::print("write-unplug-plug-read: {} ({} per 10^6 steps)\n", total.write_unplug_plug_read,
               per_million(total.write_unplug_plug_read));
    fmt::print("remove-with-plugged: {} ({} per 10^6 steps)\n", total.remove_with_plugged,
               per_million(total.remove_with_plugged));
    const bool enough = per_million(total.write_unplug_plug_read) >= options->at_least &&
                        per_million(total.remove_with_plugged) >= options->at_least;
    return enough ? 0 : 1;
  };
}

}  // namespace vmemcheck::cli
