// vmemcheck qemu: a real QEMU's virtio-mem-pci as the device under test,
// driven over qtest and QMP (qemu/), beside our core and its reference model.
// With a scenario: runs it on both and reports the first difference. With
// --fuzz: random single-device op sequences over several geometries, one QEMU
// per geometry reset between sequences; findings saved as scenarios that
// replay here. --qemu-version picks the releases (7.2, 10.0, or both).
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <stdexcept>

#include <stdlib.h>

#include <fmt/format.h>

#include "commands.hpp"
#include "compared_run.hpp"
#include "core_beside_qemu.hpp"
#include "fuzz_decoder.hpp"
#include "fuzz_target_option.hpp"
#include "kvm_calls.hpp"
#include "qemu_binary.hpp"
#include "qemu_machine.hpp"
#include "qemu_probe.hpp"
#include "qemu_process.hpp"
#include "qemu_sanitizer_finding.hpp"
#include "qemu_sequences.hpp"
#include "scenario.hpp"
#include "units.hpp"

namespace vmemcheck::cli {
namespace {

std::string count_list(const std::map<std::string, size_t>& kinds) {
  std::string out;
  for (const auto& [kind, count] : kinds) out += fmt::format("{}{} {}", out.empty() ? "" : ", ", count, kind);
  return out;
}

// One QEMU to run: its binary and the device profile the core models,
// probed from the binary.
struct Target {
  std::string binary;
  QemuDeviceProfile profile;
  std::string replay_option;  // how a finding replays: "--qemu-version 10.0" or "--qemu PATH"
};

struct Options {
  std::string file;
  std::string qemu;
  std::string versions;
  bool fuzz = false;
  uint64_t sequences = 200;
  uint64_t ops = 50;
  uint64_t seed = 1;
  std::string findings = "findings";
  bool plant = false;
  bool plant_memslot = false;
  bool plant_sanitizer = false;
  std::string accel = "tcg";
  bool plant_kvm = false;
  qemu::StartOptions start;
  bool no_reuse = false;
  bool quiet = false;
  std::string corpus;
  std::string target;  // --corpus: the fuzz target whose decoder reads the inputs
  uint64_t inputs = 0;  // --corpus: only the first this many (0: all)
};

// --qemu-version's list ("7.2,10.0", "all") into releases, each once.
Result<std::vector<QemuVersion>> releases_of(const std::string& option) {
  std::vector<QemuVersion> versions;
  const std::string list = option == "all" ? "7.2,10.0" : option;
  for (size_t start = 0; start < list.size();) {
    size_t end = list.find(',', start);
    if (end == std::string::npos) end = list.size();
    const std::string name = list.substr(start, end - start);
    const auto version = parse_qemu_version(name);
    if (!version) return Error{fmt::format("--qemu-version: '{}' is not a modelled QEMU release (7.2, 10.0, all)", name)};
    if (std::find(versions.begin(), versions.end(), *version) == versions.end()) versions.push_back(*version);
    start = end + 1;
  }
  return versions;
}

// The binary's probed profile; says so when it is not the release table's.
// Error: it cannot be probed, or is not the release `expected` (if given).
Result<Target> probed_target(const std::string& binary, const QemuVersion* expected, std::string replay_option) {
  auto probed = qemu::probe_qemu(binary);
  if (!probed) return probed.error();
  if (expected && probed->release != *expected) {
    return Error{fmt::format("{} is QEMU {}, not {}", binary, probed->version, qemu_profile(*expected).name)};
  }
  if (!probed->release) {
    fmt::print("note: QEMU {} ({}) has no entry in the release table (7.2, 10.0): running with the probed profile: {}\n",
               probed->version, binary, describe(probed->profile));
  } else if (auto differences = profile_differences(probed->profile, qemu_profile(*probed->release));
             !differences.empty()) {
    fmt::print("note: QEMU {} ({}) differs from the release table's {}: {}; running with the probed profile\n",
               probed->version, binary, probed->profile.name, differences);
  }
  return Target{binary, std::move(probed->profile), std::move(replay_option)};
}

// --qemu and --qemu-version into the QEMUs to run, each probed. Error: a
// message naming the bad option or the QEMU that cannot be run.
Result<std::vector<Target>> targets_of(const Options& o) {
  auto versions = releases_of(o.versions);
  if (!versions) return versions.error();
  if (!o.qemu.empty()) {
    if (versions->size() > 1) return Error{"--qemu names one binary: give at most one --qemu-version with it"};
    auto target = probed_target(o.qemu, versions->empty() ? nullptr : &versions->front(), "--qemu " + o.qemu);
    if (!target) return target.error();
    return std::vector<Target>{std::move(*target)};
  }
  if (versions->empty()) versions->push_back(QemuVersion::V7_2);
  std::vector<Target> targets;
  for (const QemuVersion version : *versions) {
    const std::string binary = qemu::installed_binary(version);
    const std::string name = qemu_profile(version).name;
    if (!qemu::locate_binary(binary)) {
      return Error{fmt::format("QEMU {} is not installed: no {} (scripts/install-deps installs it; or pass --qemu PATH)",
                               name, binary)};
    }
    auto target = probed_target(binary, &version, "--qemu-version " + name);
    if (!target) return Error{fmt::format("QEMU {}: {}", name, target.error().message)};
    targets.push_back(std::move(*target));
  }
  return targets;
}

// The core (with the difference --plant-difference or
// --plant-memslot-difference plants, on `platform` when given) beside the
// QEMU of `target`, started the way the options say.
std::unique_ptr<qemu::CoreBesideQemu> compared(const Options& o, const Target& target, qemu::QemuPool* pool,
                                               Platform* platform = nullptr) {
  qemu::Planted planted{.difference = std::nullopt, .sanitizer_report = o.plant_sanitizer};
  if (o.plant || o.plant_memslot) planted.difference = o.plant_memslot ? scenario::Plant::Memslot : scenario::Plant::Response;
  auto duts = std::make_unique<qemu::CoreBesideQemu>(target.binary, target.profile, pool, planted, platform);
  duts->start_with(o.start);
  return duts;
}

// The scenario's first steps, up to and with step `last`, as text that replays.
std::string steps_text(const scenario::Scenario& scenario, size_t last) {
  const auto end = scenario.steps.begin() + static_cast<long>(std::min(last + 1, scenario.steps.size()));
  return scenario::to_text(scenario::Scenario{scenario.name, {scenario.steps.begin(), end}});
}

// Whether an error is QEMU's own finding: a sanitizer report or a crash that ended it.
bool qemu_finding(const scenario::ComparedRun& result) {
  return result.error &&
         (result.error_code == ErrorCode::QemuSanitizerReport || result.error_code == ErrorCode::QemuCrashed);
}

// A sanitizer report or crash that ended QEMU: saved as a finding, once per
// distinct report (a crash's first line of stderr, its assertion), and said.
// `scenario_text`: the ops that led to it.
void report_qemu_finding(const Options& o, const Target& target, const std::string& scenario_text,
                         const scenario::ComparedRun& result, const std::string& stem, const std::string& source) {
  const bool crash = result.error_code == ErrorCode::QemuCrashed;
  const auto finding = save_sanitizer_finding(
      o.findings, fmt::format("qemu-{}-{}-{}", target.profile.name, crash ? "crash" : "sanitizer", stem), scenario_text,
      report_of(*result.error));
  fmt::print("{}: {}: {}\n  {}: vmemcheck qemu {}{} {}\n", crash ? "QEMU CRASH" : "SANITIZER REPORT", source, finding.key,
             finding.first_of_key ? "replay" : "seen before; replay", target.replay_option,
             std::string(o.plant_sanitizer ? " --plant-sanitizer-report" : "") + o.start.flags(),
             finding.scenario.string());
}

// --accel kvm: QEMU on /dev/kvm, its kvm_set_user_memory calls collected op by
// op beside the core backend's (kvm_calls.hpp).
class KvmCalls {
 public:
  explicit KvmCalls(bool plant) : recorder_(plant), dir_(make_dir()), reader_(dir_ + "/kvm-trace") {}
  // QEMU on KVM with its trace, and the scenario's further devices started with its first.
  void set_up(const scenario::Scenario& parsed, qemu::QemuDeviceUnderTest& qemu) {
    qemu.run_on_kvm(reader_.path());
    std::vector<DeviceConfig> further;
    bool first = true;
    for (const auto& step : parsed.steps) {
      if (const auto* add = std::get_if<scenario::AddDevice>(&step.op)) {
        if (!first) further.push_back(add->config);
        first = false;
      }
    }
    qemu.start_further_devices(std::move(further));
  }
  ~KvmCalls() {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  Platform* platform() { return &recorder_; }
  // After each step: its calls on both sides. Consecutive `device` steps
  // are one group: QEMU starts every device when the scenario adds the first.
  void after(const scenario::ComparedStep& s, bool adds_device) {
    std::vector<qemu::KvmCall> from_qemu;
    for (const auto& call : reader_.take_calls()) {
      if (call.gpa >= qemu::kQemuDeviceMemoryBase) from_qemu.push_back(call);
    }
    const std::vector<qemu::KvmCall> from_core = recorder_.take_calls();
    if (!(adds_device && last_added_device_) || groups_.empty()) groups_.emplace_back();
    last_added_device_ = adds_device;
    auto& g = groups_.back();
    g.ops += fmt::format("  {:>4}  {}\n", s.line, s.op_text);
    g.qemu.insert(g.qemu.end(), from_qemu.begin(), from_qemu.end());
    g.core.insert(g.core.end(), from_core.begin(), from_core.end());
  }
  // Prints both lists and the figures; the exit status (0 agreed, 1 a
  // difference, 2 QEMU wrote no trace: not on KVM).
  int report() {
    (void)reader_.take_calls();
    if (reader_.all().empty()) {
      std::cerr << "vmemcheck qemu: --accel kvm: QEMU wrote no kvm_set_user_memory event to " << reader_.path()
                << " (is it on KVM, with the trace backend?)\n";
      return 2;
    }
    const qemu::KvmComparison c = qemu::compare_kvm_calls(groups_);
    fmt::print("KVM_SET_USER_MEMORY_REGION calls at or above {:#x}, op by op:\n{}", qemu::kQemuDeviceMemoryBase,
               c.listing);
    for (const auto& line : c.difference_lines) fmt::print("KVM DIFFERENCE\n{}\n", line);
    fmt::print("KVM calls: QEMU {} of {} traced (the rest are its boot memory and ROMs), core {}; {} compared, "
               "{} difference{}\n",
               c.qemu_calls, reader_.all().size(), c.core_calls, c.compared, c.differences,
               c.differences == 1 ? "" : "s");
    return c.differences ? 1 : 0;
  }

 private:
  static std::string make_dir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "vmemcheck-kvm-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    return pattern;
  }
  qemu::RecordingPlatform recorder_;
  std::string dir_;
  qemu::KvmTraceReader reader_;
  std::vector<qemu::KvmCallGroup> groups_;
  bool last_added_device_ = false;
};

// Exit status: 0 agreed, 1 a difference, 2 QEMU could not be run.
int run_scenario(const Options& o, const scenario::Scenario& parsed, const Target& target) {
  std::optional<KvmCalls> kvm;  // before the core's runner, which records into it
  if (o.accel == "kvm") kvm.emplace(o.plant_kvm);
  const auto duts = compared(o, target, nullptr, kvm ? kvm->platform() : nullptr);
  if (kvm) kvm->set_up(parsed, duts->qemu());
  const auto result = duts->run(parsed, [&](const scenario::ComparedStep& s) {
    if (kvm) kvm->after(s, std::holds_alternative<scenario::AddDevice>(parsed.steps[s.step].op));
    if (o.quiet) return;
    if (s.skipped) fmt::print("{:>4}  {} -> skipped: {}\n", s.line, s.op_text, *s.skipped);
    else if (s.applied.size() == 2) {
      fmt::print("{:>4}  {} -> vmemcheck {} | QEMU {}\n", s.line, s.op_text, to_text(s.applied[0].outcome),
                 to_text(s.applied[1].outcome));
    } else if (!s.applied.empty()) {
      fmt::print("{:>4}  {} -> vmemcheck {}\n", s.line, s.op_text, to_text(s.applied[0].outcome));
    }
  });
  if (qemu_finding(result)) {
    report_qemu_finding(o, target, steps_text(parsed, result.error_step), result,
                        std::filesystem::path(o.file).stem().string(), o.file);
    return 1;
  }
  if (result.error) {
    std::cerr << "vmemcheck qemu: QEMU " << target.profile.name << ": " << *result.error << "\n";
    return 2;
  }
  for (const auto& note : result.notes) fmt::print("note: {}\n", note);
  if (result.difference) fmt::print("DIFFERENCE {}\n", scenario::describe(*result.difference));
  fmt::print("{}: QEMU {}{}, {} ops compared, {} memslot listings, {} skipped{}{}, {} difference{}\n", o.file,
             duts->version().empty() ? fmt::format("{} not started", target.profile.name) : duts->version(),
             qemu::qemu_decision(result).empty() ? "" : " (decided " + qemu::qemu_decision(result) + ")", result.compared,
             result.memslot_listings, result.skipped, result.skipped ? " (" : "",
             result.skipped ? count_list(result.skipped_kinds) + ")" : "", result.difference ? 1 : 0,
             result.difference ? "" : "s");
  const int kvm_status = kvm ? kvm->report() : 0;
  return std::max(result.difference ? 1 : 0, kvm_status);
}

// Figures over every sequence of a --fuzz run.
struct FuzzTally {
  uint64_t ops = 0, findings = 0, sanitizer_reports = 0, crashes = 0, listings = 0, digest = 0;
  uint64_t ops_with_several_devices = 0, sequences_with_several_devices = 0;
  std::string version;
  std::map<size_t, uint64_t> ops_per_geometry;
  std::map<size_t, std::string> decisions;
  std::map<std::string, size_t> answers, skipped_reasons;
  std::set<std::string> notes;
};

std::vector<std::filesystem::path> corpus_inputs(const Options& o) {
  std::vector<std::filesystem::path> inputs;
  if (o.corpus.empty()) return inputs;
  for (const auto& entry : std::filesystem::directory_iterator(o.corpus)) {
    if (entry.is_regular_file()) inputs.push_back(entry.path());
  }
  std::sort(inputs.begin(), inputs.end());
  if (o.inputs != 0 && inputs.size() > o.inputs) inputs.resize(o.inputs);
  return inputs;
}

// Saves a finding as a scenario that replays with `vmemcheck qemu` and says how.
void save_finding(const Options& o, const Target& target, const scenario::Scenario& scenario,
                  const scenario::Difference& difference, const std::string& source, const std::string& stem) {
  std::filesystem::create_directories(o.findings);
  const auto path = std::filesystem::path(o.findings) /
                    fmt::format("qemu-{}-{}.vmem", target.profile.name, stem);
  std::string described = scenario::describe(difference);
  for (size_t at = described.find('\n'); at != std::string::npos; at = described.find('\n', at + 1)) {
    described.replace(at, 1, "\n#   ");
  }
  const std::string replay_flags =
      std::string(o.plant_memslot ? " --plant-memslot-difference" : o.plant ? " --plant-difference" : "") + o.start.flags();
  std::ofstream out(path);
  out << fmt::format("# vmemcheck qemu finding on QEMU {}, {}{}:\n#   {}\n", target.profile.name, source,
                     replay_flags.empty() ? "" : " (replay with" + replay_flags + ")", described);
  const auto end = scenario.steps.begin() + static_cast<long>(difference.step) + 1;
  out << scenario::to_text(scenario::Scenario{scenario.name, {scenario.steps.begin(), end}});
  fmt::print("finding: {}: {}\n  replay: vmemcheck qemu {}{} {}\n", source, scenario::describe(difference),
             target.replay_option, replay_flags, path.string());
}

void print_fuzz_summary(const Options& o, const Target& target, const FuzzTally& t, const qemu::QemuPool& pool,
                        uint64_t sequences, double seconds) {
  const std::vector<qemu::FuzzGeometry> geometries = qemu::qemu_geometries(target.profile);
  for (const auto& [geometry, count] : t.ops_per_geometry) {
    const auto& g = geometries[geometry];
    fmt::print("  geometry size={} block={} requested={} unplugged-inaccessible={} mode={} area={}: {} ops{}\n",
               format_size(g.region), format_size(g.block), format_size(g.requested),
               g.unplugged_inaccessible ? "on" : "off", name(g.mode), format_size(g.device_memory), count,
               t.decisions.count(geometry) ? ", QEMU decided " + t.decisions.at(geometry) : "");
  }
  for (const auto& note : t.notes) fmt::print("  note: {}\n", note);
  for (const auto& [reason, count] : t.skipped_reasons) fmt::print("  skipped {}x: {}\n", count, reason);
  fmt::print("  QEMU's answers to requests: {}\n", count_list(t.answers));
  fmt::print("  several devices in one QEMU: {} sequences, {} ops\n", t.sequences_with_several_devices,
             t.ops_with_several_devices);
  fmt::print("  QEMU processes: {} started, {} reused after a reset, {} resets refused (not fresh); outcome digest {:016x}\n",
             o.no_reuse ? sequences : pool.started(), pool.reused(), pool.refused(), t.digest);
  fmt::print("qemu fuzz done: QEMU {}, {} sequences, {} ops in {:.1f}s ({:.0f} ops/s), {} memslot listings, {} "
             "difference{}, {} sanitizer report{}, {} crash{}\n",
             t.version, sequences, t.ops, seconds, static_cast<double>(t.ops) / seconds, t.listings, t.findings,
             t.findings == 1 ? "" : "s", t.sanitizer_reports, t.sanitizer_reports == 1 ? "" : "s", t.crashes,
             t.crashes == 1 ? "" : "es");
}

// A sequence, then what the pool does to reuse its QEMU: its device's
// requested-size back to the start, then a system reset.
std::string reset_replay(const scenario::Scenario& sequence) {
  std::string text = scenario::to_text(sequence);
  for (const auto& step : sequence.steps) {
    if (const auto* added = std::get_if<scenario::AddDevice>(&step.op)) {
      return text + fmt::format("resize {} {}\nreset\n", added->config.id, added->config.requested_size);
    }
  }
  return text;
}

int run_fuzz(const Options& o, const Target& target) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  qemu::QemuPool pool;
  const std::vector<qemu::FuzzGeometry> geometries = qemu::qemu_geometries(target.profile);
  const std::vector<std::filesystem::path> inputs = corpus_inputs(o);
  FuzzTally t;
  std::map<size_t, scenario::Scenario> previous;  // the last sequence per geometry (corpus inputs: all one)
  const uint64_t sequences = inputs.empty() ? o.sequences : inputs.size();
  for (uint64_t i = 0; i < sequences; ++i) {
    const uint64_t seed = o.seed + i;
    const size_t geometry = static_cast<size_t>(seed % geometries.size());
    scenario::Scenario scenario;
    if (inputs.empty()) {
      scenario = qemu::random_qemu_scenario(seed, geometries[geometry], o.ops);
    } else {
      std::ifstream in(inputs[i], std::ios::binary);
      const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      scenario = fuzz::decode(target_of(o.target, inputs[i].string()), bytes);
      scenario.name = inputs[i].filename().string();
    }
    const auto duts = compared(o, target, o.no_reuse ? nullptr : &pool);
    const auto result = duts->run(scenario);
    const std::string source = inputs.empty() ? fmt::format("seed {}", seed) : "corpus input " + inputs[i].string();
    if (!duts->version().empty()) t.version = duts->version();
    if (qemu_finding(result)) {
      ++(result.error_code == ErrorCode::QemuCrashed ? t.crashes : t.sanitizer_reports);
      // Reported while the QEMU of the sequence before on this geometry was
      // reset for reuse (qemu_pool.hpp): that sequence and the reset replay it.
      const scenario::Scenario& before = previous[inputs.empty() ? geometry : 0];
      const std::string text = pool.reset_reported() ? reset_replay(before) : steps_text(scenario, result.error_step);
      report_qemu_finding(o, target, text, result, inputs.empty() ? fmt::format("{}", seed) : scenario.name,
                          pool.reset_reported() ? "resetting for reuse after " + before.name : source);
      continue;
    }
    previous[inputs.empty() ? geometry : 0] = scenario;
    if (result.error) {
      std::cerr << fmt::format("vmemcheck qemu: QEMU {}: {}: {}\n", target.profile.name, scenario.name,
                               *result.error);
      return 2;
    }
    t.ops += result.compared;
    t.listings += result.memslot_listings;
    t.ops_with_several_devices += duts->qemu().ops_with_several_devices();
    t.sequences_with_several_devices += duts->qemu().ops_with_several_devices() > 0;
    t.digest = t.digest * 0x100000001b3 ^ result.tallies.back().digest;
    t.notes.insert(result.notes.begin(), result.notes.end());
    if (inputs.empty()) {
      t.ops_per_geometry[geometry] += result.compared;
      if (!qemu::qemu_decision(result).empty()) t.decisions[geometry] = qemu::qemu_decision(result);
    }
    for (const auto& [answer, count] : result.tallies.back().answers) t.answers[answer] += count;
    for (const auto& [reason, count] : result.skipped_reasons) t.skipped_reasons[reason] += count;
    if (result.difference) {
      ++t.findings;
      save_finding(o, target, scenario, *result.difference, source,
                   inputs.empty() ? fmt::format("{}", seed) : scenario.name);
    }
    if (!o.quiet && (i + 1) % 10 == 0) {
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      fmt::print("[{:6.1f}s] {} sequences, {} ops, {:.0f} ops/s, {} findings\n", seconds, i + 1, t.ops,
                 static_cast<double>(t.ops) / seconds, t.findings);
      std::fflush(stdout);
    }
  }
  const double seconds = std::max(std::chrono::duration<double>(Clock::now() - start).count(), 1e-9);
  print_fuzz_summary(o, target, t, pool, sequences, seconds);
  return t.findings == 0 && t.sanitizer_reports == 0 && t.crashes == 0 ? 0 : 1;
}

}  // namespace

Command add_qemu_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "qemu",
      "Run a real QEMU's virtio-mem-pci (over qtest and QMP, started with -S) beside the core:\n"
      "with SCENARIO, its device ops on both sides, reporting the first difference in a response,\n"
      "STATE answer, config field, needs-reset status, memslot decision or device-memory tree\n"
      "(info mtree); ops QEMU cannot express are skipped with a note. With --fuzz, random op\n"
      "sequences over several geometries (one QEMU per geometry, reset between sequences),\n"
      "findings saved as FINDINGS/qemu-VERSION-SEED.vmem. Exit status 1 on a difference,\n"
      "2 when QEMU cannot be run.");
  cmd->add_option("SCENARIO", options->file, "Scenario file (one device is run on QEMU)")->check(CLI::ExistingFile);
  cmd->add_option("--qemu-version", options->versions,
                  "QEMU releases to run, as installed by scripts/install-deps: 7.2 (the system's), 10.0 "
                  "(/opt/vmemcheck/qemu-10.0), a comma list or 'all' (default: 7.2)");
  cmd->add_option("--qemu", options->qemu,
                  "A QEMU binary (a path or a name in PATH) instead of the installed one, any version: its "
                  "device profile is probed (offered features, properties, defaults); one the release table "
                  "lacks runs with what was probed, and the output says so");
  cmd->add_flag("--fuzz", options->fuzz, "Random op sequences instead of a scenario");
  cmd->add_option("--sequences", options->sequences, "--fuzz: sequences to run")->check(CLI::Range(1, 1000000))->capture_default_str();
  cmd->add_option("--ops", options->ops, "--fuzz: ops per sequence")->check(CLI::Range(1, 100000))->capture_default_str();
  cmd->add_option("--seed", options->seed, "--fuzz: first seed; sequence i uses seed + i")->capture_default_str();
  cmd->add_option("--findings", options->findings, "--fuzz: directory for findings")->capture_default_str();
  cmd->add_flag("--no-reuse", options->no_reuse, "--fuzz: start a fresh QEMU for every sequence");
  cmd->add_flag("--prealloc", options->start.prealloc,
                "Start QEMU's devices with prealloc=on (plugged blocks preallocated; the driver sees the same answers); "
                "only devices of at most 4G with blocks of at most 4M");
  cmd->add_flag("--qemu-defaults", options->start.qemu_defaults,
                "Leave QEMU's defaults where they agree: no block-size= for 2M, unplugged-inaccessible=auto for off");
  cmd->add_flag("--late-migration", options->start.late_migration,
                "Start QEMU's devices with x-early-migration=off (their state migrates after the RAM, as before 8.2)");
  cmd->add_flag("--shared-memory", options->start.shared_memory,
                "QEMU's device backends with share=on, migrated with x-ignore-shared (their RAM is not sent)");
  cmd->add_flag("--plant-difference", options->plant,
                "Plant a difference on the model side (an acknowledged STATE over unplugged blocks is expected "
                "to answer PLUGGED), to show differences are caught");
  cmd->add_flag("--plant-memslot-difference", options->plant_memslot,
                "Plant a memslot difference: the core's device-memory tree maps one memslot too many once "
                "one is mapped");
  cmd->add_flag("--plant-sanitizer-report", options->plant_sanitizer,
                "Make an instrumented QEMU's AddressSanitizer report before the first STATE request (a qtest "
                "read of 2 TiB, more than ASan allocates), to show reports are findings");
  cmd->add_option("--accel", options->accel,
                  "With SCENARIO: tcg, or kvm to run QEMU on /dev/kvm and compare its KVM_SET_USER_MEMORY_REGION "
                  "calls (its kvm_set_user_memory trace events) call by call with the core's KVM slot backend's; "
                  "the scenario's further devices start with its first in QEMU, undriven")
      ->check(CLI::IsMember({"tcg", "kvm"}))
      ->capture_default_str();
  cmd->add_flag("--plant-kvm-difference", options->plant_kvm,
                "--accel kvm: record the core backend's first memslot call 2 MiB shorter than it was, to show "
                "KVM call differences are caught");
  cmd->add_option("--corpus", options->corpus,
                  "--fuzz: run the inputs of this directory (decoded by the fuzz target --target names, else "
                  "the one the directory is named after, else ops) instead of random sequences; the first "
                  "device of each runs on QEMU")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--inputs", options->inputs, "--corpus: run only the first N inputs (by name; 0: all)")
      ->capture_default_str();
  cmd->add_option("-t,--target", options->target, "--corpus: the fuzz target that made the inputs (" +
                  target_names() + ")")->check(target_validator());
  cmd->add_flag("-q,--quiet", options->quiet, "Print only differences and the summary");
  return [options]() {
    const Options& o = *options;
    if (!o.fuzz && o.file.empty()) {
      std::cerr << "vmemcheck qemu: give a SCENARIO or --fuzz (see --help)\n";
      return 2;
    }
    if (o.accel != "tcg" && o.fuzz) {
      std::cerr << "vmemcheck qemu: --accel kvm runs a SCENARIO, not --fuzz\n";
      return 2;
    }
    auto targets = targets_of(o);
    if (!targets) {
      std::cerr << "vmemcheck qemu: " << targets.error().message << "\n";
      return 2;
    }
    std::optional<scenario::Scenario> parsed;
    if (!o.fuzz) {
      auto file = scenario::parse_file(o.file);
      if (!file) {
        std::cerr << "vmemcheck qemu: " << file.error().message << "\n";
        return 2;
      }
      parsed = std::move(*file);
    }
    int status = 0;
    for (const Target& target : *targets) {
      const int run = o.fuzz ? run_fuzz(o, target) : run_scenario(o, *parsed, target);
      status = std::max(status, run);
    }
    return status;
  };
}

}  // namespace vmemcheck::cli
