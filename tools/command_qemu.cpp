// vmemcheck qemu: a real QEMU's virtio-mem-pci as the device under test,
// driven over qtest and QMP (qemu/), beside our core and its reference model.
// With a scenario: runs it on both and reports the first difference. With
// --fuzz: random single-device op sequences over several geometries, QEMU
// restarted per sequence; findings saved as scenarios that replay here.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "commands.hpp"
#include "differential.hpp"
#include "fuzz_decoder.hpp"
#include "scenario.hpp"
#include "units.hpp"

namespace vmemcheck::cli {
namespace {

std::string count_list(const std::map<std::string, size_t>& kinds) {
  std::string out;
  for (const auto& [kind, count] : kinds) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", count, kind);
  return out;
}

}  // namespace

Command add_qemu_command(CLI::App& app) {
  struct Options {
    std::string file;
    std::string qemu = "qemu-system-x86_64";
    bool fuzz = false;
    uint64_t sequences = 200;
    uint64_t ops = 50;
    uint64_t seed = 1;
    std::string findings = "findings";
    bool plant = false;
    bool quiet = false;
    std::string corpus;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "qemu",
      "Run a real QEMU's virtio-mem-pci (over qtest and QMP, started with -S) beside the core:\n"
      "with SCENARIO, its device ops on both sides, reporting the first difference in a response,\n"
      "STATE answer, config field or needs-reset status; ops QEMU cannot express are skipped with\n"
      "a note. With --fuzz, random op sequences over several geometries (QEMU restarted per\n"
      "sequence), findings saved as FINDINGS/qemu-SEED.vmem. Exit status 1 on a difference,\n"
      "2 when QEMU cannot be run.");
  cmd->add_option("SCENARIO", options->file, "Scenario file (one device is run on QEMU)")->check(CLI::ExistingFile);
  cmd->add_option("--qemu", options->qemu, "The QEMU binary (a path or a name in PATH)")->capture_default_str();
  cmd->add_flag("--fuzz", options->fuzz, "Random op sequences instead of a scenario");
  cmd->add_option("--sequences", options->sequences, "--fuzz: sequences to run")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--ops", options->ops, "--fuzz: ops per sequence")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--seed", options->seed, "--fuzz: first seed; sequence i uses seed + i")->capture_default_str();
  cmd->add_option("--findings", options->findings, "--fuzz: directory for findings")->capture_default_str();
  cmd->add_flag("--plant-difference", options->plant,
                "Plant a difference on the model side (an acknowledged STATE over unplugged blocks is expected "
                "to answer PLUGGED), to show differences are caught");
  cmd->add_option("--corpus", options->corpus,
                  "--fuzz: run the inputs of this directory (decoded by the ops fuzz target) instead of random "
                  "sequences; the first device of each runs on QEMU")
      ->check(CLI::ExistingDirectory);
  cmd->add_flag("-q,--quiet", options->quiet, "Print only differences and the summary");
  return [options]() {
    qemu::DifferentialOptions diff_options{options->qemu, options->plant};
    if (!options->fuzz) {
      if (options->file.empty()) {
        std::cerr << "vmemcheck qemu: give a SCENARIO or --fuzz (see --help)\n";
        return 2;
      }
      auto parsed = scenario::parse_file(options->file);
      if (!parsed) {
        std::cerr << "vmemcheck qemu: " << parsed.error().message << "\n";
        return 2;
      }
      const auto result = qemu::run_differential(*parsed, diff_options, [&](const qemu::DiffStepReport& s) {
        if (options->quiet) return;
        if (s.skipped) fmt::print("{:>4}  {} -> skipped: {}\n", s.line, s.op_text, *s.skipped);
        else fmt::print("{:>4}  {} -> vmemcheck {} | QEMU {}\n", s.line, s.op_text, s.ours, s.qemu);
      });
      if (result.error) {
        std::cerr << "vmemcheck qemu: " << *result.error << "\n";
        return 2;
      }
      if (result.difference) fmt::print("DIFFERENCE {}\n", qemu::describe(*result.difference));
      fmt::print("{}: QEMU {}, {} ops compared, {} skipped{}{}, {} difference{}\n", options->file,
                 result.qemu_version.empty() ? "not started" : result.qemu_version, result.compared, result.skipped,
                 result.skipped ? " (" : "", result.skipped ? count_list(result.skipped_kinds) + ")" : "",
                 result.difference ? 1 : 0, result.difference ? "" : "s");
      return result.difference ? 1 : 0;
    }
    using Clock = std::chrono::steady_clock;
    const auto start = Clock::now();
    uint64_t ops = 0, findings = 0;
    std::string version;
    std::map<size_t, uint64_t> ops_per_geometry;
    std::map<std::string, size_t> answers;
    std::vector<std::filesystem::path> inputs;
    if (!options->corpus.empty()) {
      for (const auto& entry : std::filesystem::directory_iterator(options->corpus)) {
        if (entry.is_regular_file()) inputs.push_back(entry.path());
      }
      std::sort(inputs.begin(), inputs.end());
    }
    const uint64_t sequences = inputs.empty() ? options->sequences : inputs.size();
    for (uint64_t i = 0; i < sequences; ++i) {
      const uint64_t seed = options->seed + i;
      const size_t geometry = static_cast<size_t>(seed % qemu::kQemuGeometries.size());
      scenario::Scenario scenario;
      if (inputs.empty()) {
        scenario = qemu::random_qemu_scenario(seed, geometry, options->ops);
      } else {
        std::ifstream in(inputs[i], std::ios::binary);
        const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        scenario = fuzz::decode(fuzz::Target::Ops, bytes);
        scenario.name = inputs[i].filename().string();
      }
      const auto result = qemu::run_differential(scenario, diff_options);
      if (result.error) {
        std::cerr << fmt::format("vmemcheck qemu: {}: {}\n", scenario.name, *result.error);
        return 2;
      }
      version = result.qemu_version;
      ops += result.compared;
      if (inputs.empty()) ops_per_geometry[geometry] += result.compared;
      for (const auto& [answer, count] : result.answers) answers[answer] += count;
      if (result.difference) {
        ++findings;
        std::filesystem::create_directories(options->findings);
        const auto path = std::filesystem::path(options->findings) / (inputs.empty() ? fmt::format("qemu-{}.vmem", seed) : fmt::format("qemu-{}.vmem", scenario.name));
        std::ofstream out(path);
        out << fmt::format("# vmemcheck qemu finding, {}{}:\n#   {}\n",
                           inputs.empty() ? fmt::format("seed {}", seed) : "corpus input " + inputs[i].string(),
                           options->plant ? " (with --plant-difference: replay with it)" : "",
                           qemu::describe(*result.difference));
        const auto end = scenario.steps.begin() + static_cast<long>(result.difference->step) + 1;
        out << scenario::to_text(scenario::Scenario{scenario.name, {scenario.steps.begin(), end}});
        fmt::print("finding: {}: {}\n  replay: vmemcheck qemu {}{}\n",
                   inputs.empty() ? fmt::format("seed {}", seed) : inputs[i].string(), qemu::describe(*result.difference),
                   options->plant ? "--plant-difference " : "", path.string());
      }
      if (!options->quiet && (i + 1) % 10 == 0) {
        const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
        fmt::print("[{:6.1f}s] {} sequences, {} ops, {:.0f} ops/s, {} findings\n", seconds, i + 1, ops,
                   static_cast<double>(ops) / seconds, findings);
        std::fflush(stdout);
      }
    }
    const double seconds = std::max(std::chrono::duration<double>(Clock::now() - start).count(), 1e-9);
    for (const auto& [geometry, count] : ops_per_geometry) {
      const auto& g = qemu::kQemuGeometries[geometry];
      fmt::print("  geometry size={} block={} requested={} unplugged-inaccessible={}: {} ops\n", format_size(g.region),
                 format_size(g.block), format_size(g.requested), g.unplugged_inaccessible ? "on" : "off", count);
    }
    fmt::print("  QEMU's answers to requests: {}\n", count_list(answers));
    fmt::print("qemu fuzz done: QEMU {}, {} sequences, {} ops in {:.1f}s ({:.0f} ops/s), {} difference{}\n", version,
               sequences, ops, seconds, static_cast<double>(ops) / seconds, findings, findings == 1 ? "" : "s");
    return findings == 0 ? 0 : 1;
  };
}

}  // namespace vmemcheck::cli
