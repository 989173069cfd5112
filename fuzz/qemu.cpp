// fuzz_qemu: QEMU's own virtio-mem, fuzzed with QEMU's edge coverage as the
// feedback (qemu_edges.hpp) and the core as the oracle. Each input decodes
// with the ops target's decoder and runs through the comparison `vmemcheck
// qemu` makes (qemu/core_beside_qemu.hpp): QEMU runs the first device's ops
// it can express, the core all of them, and the run stops at the first
// difference. QEMUs are reused across inputs after the pool's checked reset
// (qemu/qemu_pool.hpp). A difference, a sanitizer report or a QEMU that dies
// aborts with the scenario, as the other targets' findings do.
//
// Environment:
//   VMEMCHECK_QEMU   the QEMU binary (required): an instrumented build
//                    (scripts/build-qemu) for QEMU's edges; a release binary
//                    runs with the harness's coverage only, and says so
//   VMEMCHECK_PLANT  "response" or "memslot": plant a difference in the
//                    core's answers (vmemcheck qemu --plant-difference,
//                    --plant-memslot-difference), to show findings are caught
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "core_beside_qemu.hpp"
#include "fuzz_decoder.hpp"
#include "qemu_edges.hpp"
#include "qemu_probe.hpp"

namespace {

using namespace vmemcheck;

// QEMUs kept idle for reuse: each holds its own memory (an ASan build, a few
// hundred MB), and the inputs name many geometries.
constexpr size_t kIdleQemus = 4;

struct QemuUnderFuzz {
  std::string binary;
  QemuDeviceProfile profile;
  qemu::Planted planted;
  fuzz::QemuEdges edges;
  qemu::QemuPool pool{kIdleQemus};
  uint64_t inputs = 0;
};

QemuUnderFuzz* fuzzed = nullptr;

[[noreturn]] void fail_setup(const std::string& message) {
  fmt::print(stderr, "fuzz_qemu: {}\n", message);
  std::exit(2);
}

std::optional<scenario::Plant> plant_of(const char* value) {
  if (!value || !*value) return std::nullopt;
  const std::string text = value;
  if (text == "response") return scenario::Plant::Response;
  if (text == "memslot") return scenario::Plant::Memslot;
  fail_setup(fmt::format("VMEMCHECK_PLANT='{}' is neither 'response' nor 'memslot'", text));
}

// QEMU's start options, read from the input's last byte without taking it
// from the ops decoder, so that the corpus decodes as it did: 0xa0 to 0xaf,
// one byte value in 16, starts the devices with the options of its low
// bits, any other with none.
qemu::StartOptions start_options_of(const uint8_t* data, size_t size) {
  const uint8_t last = size ? data[size - 1] : 0;
  if ((last & 0xf0) != 0xa0) return {};
  return {.prealloc = (last & 1) != 0, .qemu_defaults = (last & 2) != 0, .late_migration = (last & 8) != 0,
          .shared_memory = (last & 4) != 0};
}

[[noreturn]] void report_finding(const scenario::Scenario& scenario, size_t last_step, const std::string& what,
                                 const qemu::StartOptions& options) {
  const auto end = scenario.steps.begin() + static_cast<long>(std::min(last_step + 1, scenario.steps.size()));
  fmt::print(stderr, "vmemcheck fuzz_qemu: QEMU {}: {}\nscenario so far:\n{}", fuzzed->profile.name, what,
             scenario::to_text(scenario::Scenario{scenario.name, {scenario.steps.begin(), end}}));
  const char* plant_flag = !fuzzed->planted.difference                               ? ""
                           : *fuzzed->planted.difference == scenario::Plant::Memslot ? " --plant-memslot-difference"
                                                                                      : " --plant-difference";
  fmt::print(stderr, "replay: save the scenario above as FILE.vmem (or `vmemcheck convert --target ops INPUT -o "
             "FILE.vmem`) and run: vmemcheck qemu --qemu {}{}{} FILE.vmem\n", fuzzed->binary, plant_flag, options.flags());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* binary = std::getenv("VMEMCHECK_QEMU");
  if (!binary || !*binary) {
    fail_setup("set VMEMCHECK_QEMU to a QEMU binary, e.g. VMEMCHECK_QEMU=$(scripts/build-qemu --print-binary)");
  }
  const auto plant = plant_of(std::getenv("VMEMCHECK_PLANT"));
  // Shared before the probe starts the first QEMU, so that every QEMU counts into it.
  auto edges = fuzz::QemuEdges::share();
  if (!edges) fail_setup(edges.error().message);
  auto probed = qemu::probe_qemu(binary);
  if (!probed) fail_setup(fmt::format("{}: {}", binary, probed.error().message));
  fmt::print(stderr, "fuzz_qemu: QEMU {} ({}){}: {}\n", probed->version, binary,
             probed->release ? "" : ", not in the release table: the probed profile", describe(probed->profile));
  fuzzed = new QemuUnderFuzz{binary, std::move(probed->profile), qemu::Planted{.difference = plant, .sanitizer_report = false},
                             std::move(*edges)};
  // QEMUs end at exit: an instrumented QEMU writes its coverage profile then.
  std::atexit([] {
    fuzzed->pool.clear();
    const qemu::QemuPool& pool = fuzzed->pool;
    fmt::print(stderr, "fuzz_qemu: {} inputs; QEMU edges taken (map bytes): {}; device QEMUs: {} started, {} reused "
               "after a reset, {} resets refused, {} ended idle\n", fuzzed->inputs, fuzzed->edges.edges_seen(),
               pool.started(), pool.reused(), pool.refused(), pool.evicted());
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const scenario::Scenario scenario = fuzz::decode(fuzz::Target::Ops, {data, size});
  const qemu::StartOptions options = start_options_of(data, size);
  fuzzed->edges.before_input();
  scenario::ComparedRun result;
  {
    qemu::CoreBesideQemu compared(fuzzed->binary, fuzzed->profile, &fuzzed->pool, fuzzed->planted);
    compared.start_with(options);
    result = compared.run(scenario);
  }  // QEMU back to the pool, counted with this input
  fuzzed->edges.after_input();
  if (++fuzzed->inputs == 16 && fuzzed->edges.edges_seen() == 0) {
    fmt::print(stderr, "fuzz_qemu: warning: {} took no edges in 16 inputs: not an instrumented build "
               "(scripts/build-qemu); the feedback is the harness's coverage only\n", fuzzed->binary);
  }
  if (result.difference) {
    report_finding(scenario, result.difference->step, scenario::describe(*result.difference), options);
  }
  if (result.error && fuzzed->pool.reset_reported()) {
    // The QEMU of an earlier input reported while it was reset for reuse:
    // this input is not the cause; the message says what to rerun.
    report_finding(scenario, 0, "SANITIZER REPORT while resetting for reuse the QEMU of an earlier input of the same "
                   "geometry (rerun the inputs before this one with -runs to find it): " + *result.error, options);
  }
  if (result.error) {
    report_finding(scenario, result.error_step,
                   fmt::format("step {}: {}{}", result.error_step + 1,
                               result.error_code == ErrorCode::QemuSanitizerReport ? "SANITIZER REPORT: "
                               : result.error_code == ErrorCode::QemuCrashed       ? "QEMU CRASH: "
                                                                                   : "",
                               *result.error), options);
  }
  return 0;
}
