// Differential runs: a scenario's device operations on a real QEMU
// (virtio_mem_pci.hpp) and on our core (scenario::Runner, which itself checks
// the core against the reference model and the invariants), side by side.
// After every operation both answers, the config space and the needs-reset
// status are compared; the first difference ends the run. Operations QEMU
// cannot express (busy, faults, migration, vhost, memslot views, guest
// accesses, raw rings, further devices) are skipped on both sides.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "scenario.hpp"

namespace vmemcheck::qemu {

struct DifferentialOptions {
  std::string qemu = "qemu-system-x86_64";
  // Plants a difference on the model side: an acknowledged STATE that
  // finds every block unplugged is expected to answer PLUGGED. For showing
  // that differences are caught and saved as replayable findings.
  bool plant_difference = false;
};

struct Difference {
  size_t step = 0;  // index into the scenario's steps
  int line = 0;
  std::string op_text;
  std::string what;  // "response", "config", "needs-reset", "resize", "device", "core vs model"
  std::string ours;  // the core's (or model's) value
  std::string qemu;  // QEMU's value
};

struct DiffStepReport {
  size_t step = 0;
  int line = 0;
  std::string op_text;
  std::string ours;  // outcome on the core
  std::string qemu;  // outcome on QEMU
  std::optional<std::string> skipped;  // why the op ran on neither side
};

struct DifferentialResult {
  size_t compared = 0;  // ops run on both sides
  size_t skipped = 0;
  std::map<std::string, size_t> skipped_kinds;  // op kind -> count
  std::map<std::string, size_t> answers;        // QEMU's answers to requests ("ACK", "ERROR", "none ...")
  std::optional<Difference> difference;
  std::optional<std::string> error;  // QEMU could not be driven (missing, died, ...)
  std::string qemu_version;
};

DifferentialResult run_differential(const scenario::Scenario& scenario, const DifferentialOptions& options,
                                    const std::function<void(const DiffStepReport&)>& on_step = {});

// A random single-device scenario of ops QEMU can express, over one of
// kQemuGeometries (chosen by `geometry`), deterministic in `seed`.
struct FuzzGeometry {
  uint64_t region;
  uint64_t block;
  uint64_t requested;
  bool unplugged_inaccessible;
};
extern const std::vector<FuzzGeometry> kQemuGeometries;
scenario::Scenario random_qemu_scenario(uint64_t seed, size_t geometry, uint64_t ops);

// The text of a difference, for people.
std::string describe(const Difference& difference);

}  // namespace vmemcheck::qemu
