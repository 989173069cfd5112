// vmemcheck guest: a real Linux guest's virtio-mem driver against QEMU 10's
// device (qemu/guest_session.hpp), its recorded request stream replayed on
// the core through the device-under-test loop (run_compared, beside
// scenario::RecordedDeviceUnderTest): every answer, and the config and
// memslot listing at every checkpoint, compared with QEMU's. With --replay,
// a recording kept as a scenario (corpus/guest/) replays without a guest.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <numeric>

#include <fmt/format.h>

#include "commands.hpp"
#include "compared_run.hpp"
#include "core_device_under_test.hpp"
#include "guest_session.hpp"
#include "planted_difference.hpp"
#include "qemu_binary.hpp"
#include "recorded_device_under_test.hpp"
#include "scenario.hpp"
#include "units.hpp"

namespace vmemcheck::cli {
namespace {

struct Options {
  std::string replay;
  std::string kernel;
  std::string initrd;
  std::string qemu;
  std::string record;
  std::string trace = "guest-trace.log";
  size_t resizes = 20;
  size_t plan_start = 0;
  bool plant_memslot = false;
  bool second_device = false;
  size_t migrations = 0;
};

// The guest's request that exposed a difference: the last one at or before its step.
std::string exposing_request(const scenario::Scenario& recording, size_t step) {
  for (size_t i = step + 1; i-- > 0;) {
    const scenario::Step& s = recording.steps[i];
    if (std::holds_alternative<scenario::GuestRequest>(s.op)) {
      return fmt::format("line {}: {} => {}", s.line, to_text(s.op), s.expected.value_or("?"));
    }
  }
  return "none (before the guest's first request)";
}

// Exit status: 0 the core answered and mapped as QEMU did, 1 a difference, 2 an error.
int replay(const scenario::Scenario& recording, const Options& o) {
  scenario::CoreDeviceUnderTest core;
  std::optional<scenario::PlantedDifference> planted;
  if (o.plant_memslot) planted.emplace(core, scenario::Plant::Memslot);
  scenario::RecordedDeviceUnderTest recorded(recording);
  scenario::DeviceUnderTest* first = planted ? static_cast<scenario::DeviceUnderTest*>(&*planted) : &core;
  const std::array<scenario::DeviceUnderTest*, 2> devices{first, &recorded};
  const auto run = scenario::run_compared(recording, devices, {.check_expectations = false});
  if (run.error) {
    std::cerr << "vmemcheck guest: replay: " << *run.error << "\n";
    return 2;
  }
  for (const auto& note : run.notes) fmt::print("note: {}\n", note);
  if (run.difference) {
    fmt::print("DIFFERENCE {}\n", scenario::describe(*run.difference));
    fmt::print("exposed by the guest's request {}\n", exposing_request(recording, run.difference->step));
  }
  const auto& answers = run.tallies.back().answers;
  const size_t requests = std::accumulate(answers.begin(), answers.end(), size_t{0},
                                          [](size_t sum, const auto& answer) { return sum + answer.second; });
  fmt::print("{}: {} steps compared, {} guest requests compared, {} memslot listings compared, {} skipped, "
             "{} difference{}\n", recording.name, run.compared, requests,
             run.memslot_listings, run.skipped, run.difference ? 1 : 0, run.difference ? "" : "s");
  return run.difference ? 1 : 0;
}

void write_recording(const Options& o, const scenario::Scenario& recording, const qemu::GuestSession& session,
                     const qemu::RecordingCounts& counts) {
  std::ofstream out(o.record);
  out << fmt::format("# A real guest's virtio-mem traffic (vmemcheck guest): Debian's Linux {} driver against QEMU {}\n"
                     "# (TCG, q35, 512M boot RAM, maxmem 8G, {} with 2M blocks, dynamic-memslots=on{}),\n"
                     "# {} requests with QEMU's answers from its virtio_mem_* trace, {} resizes over QMP, {} checkpoints\n"
                     "# (QOM size and requested-size, the usable region as traced, info mtree). Replay: vmemcheck guest --replay FILE\n",
                     session.kernel_release, session.qemu_version,
                     session.recording.devices.size() == 1 ? "a 4G memory-backend-ram" : "devices of 4G and 2G",
                     counts.migrations ? fmt::format(", {} migrations of the running guest toggling it", counts.migrations) : "",
                     counts.requests, counts.resizes, counts.checkpoints);
  out << scenario::to_text(recording);
}

void print_session(const qemu::GuestSession& session, const qemu::RecordingCounts& counts) {
  const auto& times = session.converge_seconds;
  const double total = std::accumulate(times.begin(), times.end(), 0.0);
  // A checkpoint follows the boot, every resize and every migration.
  fmt::print("guest: booted to its driver in {:.1f} s; {} resizes, converged in {:.1f} s on average, {:.1f} s at most "
             "({} checkpoints after boot)\n",
             session.boot_seconds, counts.resizes, times.size() > 1 ? (total - times[0]) / double(times.size() - 1) : 0.0,
             times.empty() ? 0.0 : *std::max_element(times.begin(), times.end()), times.size() - 1);
  fmt::print("trace: {} requests, {} responses (each request answered before the next), {} system resets; {} checkpoints; "
             "{} migrations\n", counts.requests, counts.responses, counts.resets, counts.checkpoints, counts.migrations);
  uint64_t pattern = 0, in_device = 0;
  for (const auto& r : session.reports) {
    pattern += r.pattern_mib;
    in_device += r.in_device_mib;
  }
  fmt::print("guest memory: a pattern over {} MiB written and read back at {} checkpoints, {} MiB of it in the device\n",
             pattern, session.reports.size(), in_device);
  for (size_t i = 0; i < session.held.size(); ++i) {
    const auto& held = session.held[i];
    fmt::print("migration {} (dynamic-memslots {}): {:.1f} s; the guest held a pattern over {} MiB ({} MiB in the "
               "device) across it, rewriting it meanwhile: {} words wrong\n",
               i + 1, i % 2 == 0 ? "on -> off" : "off -> on",
               i < session.migration_seconds.size() ? session.migration_seconds[i] : 0.0, held.pattern_mib,
               held.in_device_mib, held.mismatches);
  }
}

// The patterns held across migrations: intact, and some of each in device memory.
std::vector<std::string> judge_held_patterns(const qemu::GuestSession& session) {
  std::vector<std::string> problems;
  for (size_t i = 0; i < session.held.size(); ++i) {
    const auto& held = session.held[i];
    if (held.mismatches) problems.push_back(fmt::format("migration {}: {} words of the held pattern read back wrong", i + 1, held.mismatches));
    if (!held.pattern_mib) problems.push_back(fmt::format("migration {}: the guest held no pattern", i + 1));
  }
  return problems;
}

// Exit status as replay(), and 1 when the guest's memory check found a problem.
int run_live(const Options& o) {
  qemu::GuestSessionOptions options;
  options.binary = o.qemu.empty() ? qemu::installed_binary(QemuVersion::V10_0) : o.qemu;
  options.kernel = o.kernel;
  options.initrd = o.initrd;
  options.trace_path = o.trace;
  if (o.second_device) options.geometry.devices.push_back(qemu::kSecondGuestDevice);
  options.resizes = qemu::resize_plan(o.plan_start, o.resizes, options.geometry);
  options.migrations = o.migrations;
  auto session = qemu::run_guest_session(options);
  if (!session) {
    std::cerr << "vmemcheck guest: " << session.error().message << "\n";
    return 2;
  }
  qemu::RecordingCounts counts;
  auto recording = qemu::to_scenario(session->recording, counts);
  if (!recording) {
    std::cerr << "vmemcheck guest: the recording is incomplete: " << recording.error().message << "\n";
    return 2;
  }
  print_session(*session, counts);
  const auto& events = session->recording.events;
  auto problems = qemu::judge_guest_memory(session->reports, options.geometry.block_size, [&](const qemu::GuestMemoryReport& report) {
    return qemu::plugged_blocks(events, report.events_before, options.geometry.block_size);
  });
  for (auto& problem : judge_held_patterns(*session)) problems.push_back(std::move(problem));
  for (const auto& problem : problems) fmt::print("GUEST MEMORY PROBLEM {}\n", problem);
  if (!o.record.empty()) write_recording(o, *recording, *session, counts);
  recording->name = o.record.empty() ? "guest recording" : o.record;
  const int replayed = replay(*recording, o);
  return replayed != 0 ? replayed : problems.empty() ? 0 : 1;
}

}  // namespace

Command add_guest_command(CLI::App& app) {
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "guest",
      "Boot Debian's Linux under QEMU 10 (TCG) with a virtio-mem-pci device (dynamic-memslots=on) and\n"
      "its virtio_mem driver (tests/guest/run-virtio-mem-guest builds the kernel and initramfs), resize it\n"
      "over QMP and record every request and answer from QEMU's trace; then replay the recording on the\n"
      "core, comparing every answer and, at every checkpoint, the config and memslot listing. The guest\n"
      "checks its memory at each checkpoint. --replay replays a kept recording without a guest.\n"
      "Exit status 1 on a difference or a guest memory problem, 2 when the guest or QEMU failed.");
  cmd->add_option("--replay", options->replay, "A recording (a scenario from --record) to replay")->check(CLI::ExistingFile);
  cmd->add_option("--kernel", options->kernel, "The guest's kernel")->check(CLI::ExistingFile);
  cmd->add_option("--initrd", options->initrd, "The guest's initramfs")->check(CLI::ExistingFile);
  cmd->add_option("--qemu", options->qemu, "QEMU 10 binary (default: the installed 10.0)");
  cmd->add_option("--resizes", options->resizes, "Host resizes after boot")->check(CLI::Range(1, 1000))->capture_default_str();
  cmd->add_option("--plan-start", options->plan_start, "Start at this entry of the resize plan (another stream)")
      ->capture_default_str();
  cmd->add_flag("--second-device", options->second_device,
                "A second virtio-mem-pci (vmem1, 2 GiB) in the same QEMU; the resizes take turns");
  cmd->add_option("--migrations", options->migrations,
                  "Migrate the running guest after each of the first N resizes, dynamic-memslots on -> off, then "
                  "off -> on, ..., the guest holding and rewriting its pattern meanwhile")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  cmd->add_option("--record", options->record, "Keep the recording as this scenario");
  cmd->add_option("--trace", options->trace, "QEMU's trace file")->capture_default_str();
  cmd->add_flag("--plant-memslot-difference", options->plant_memslot,
                "The core's listing maps one memslot too many once one is mapped: the difference must be reported");
  return [options]() {
    const Options& o = *options;
    if (!o.replay.empty()) {
      auto recording = scenario::parse_file(o.replay);
      if (!recording) {
        std::cerr << "vmemcheck guest: " << recording.error().message << "\n";
        return 2;
      }
      return replay(*recording, o);
    }
    if (o.kernel.empty() || o.initrd.empty()) {
      std::cerr << "vmemcheck guest: give --kernel and --initrd, or --replay (see --help)\n";
      return 2;
    }
    return run_live(o);
  };
}

}  // namespace vmemcheck::cli
