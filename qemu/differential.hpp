// Differential runs: a scenario's device operations on a real QEMU
// (virtio_mem_pci.hpp) and on our core (scenario::Runner, which itself checks
// the core against the reference model and the invariants), side by side.
// After every operation both answers, the config space, the needs-reset
// status and (where QEMU has the core's memslot mode) the device-memory tree
// of `info mtree` are compared; the first difference ends the run. Operations
// QEMU cannot express (busy, faults, vhost, guest accesses, raw
// rings, further devices) are skipped on both sides.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device_config.hpp"
#include "qemu_release.hpp"
#include "result.hpp"
#include "scenario.hpp"

namespace vmemcheck::qemu {

class VirtioMemPci;
struct QemuGeometry;

// A difference planted on the model side, to show that differences are
// caught and saved as replayable findings.
enum class Plant {
  None,
  Response,  // an acknowledged STATE that finds every block unplugged is expected to answer PLUGGED
  Memslot,   // the core's listing maps one memslot too many: the first unmapped one, once one is mapped
};

// QEMU processes kept for the next run with the same command line. Before a
// process is handed out again, its device is reset (requested-size back to
// the start, then system_reset) and must look exactly as right after its
// start (config space, status, offered features, device-memory tree);
// otherwise it is replaced by a fresh one.
class QemuPool {
 public:
  QemuPool();
  ~QemuPool();
  // A device of this geometry: a reset one from the pool, or a fresh one.
  Result<std::unique_ptr<VirtioMemPci>> take(const std::string& binary, const QemuGeometry& geometry);
  void give_back(const std::string& binary, const QemuGeometry& geometry, std::unique_ptr<VirtioMemPci> device);
  size_t started() const { return started_; }
  size_t reused() const { return reused_; }
  size_t refused() const { return refused_; }  // resets that did not give a fresh device

 private:
  struct Entry;
  std::vector<Entry> entries_;
  size_t started_ = 0, reused_ = 0, refused_ = 0;
};

struct DifferentialOptions {
  std::string qemu = "qemu-system-x86_64";
  // The device profile the core models; must be what the binary is
  // (detect_version).
  QemuVersion version = QemuVersion::V7_2;
  Plant plant = Plant::None;
  QemuPool* pool = nullptr;  // null: QEMU started for this run and ended with it
};

// The profile of the QEMU `binary` is (from its --version). Error: it cannot
// be run, or it is a release vmemcheck has no profile for.
Result<QemuVersion> detect_version(const std::string& binary);
// Where scripts/install-deps puts a QEMU release (the system's for 7.2).
std::string installed_binary(QemuVersion version);

struct Difference {
  size_t step = 0;  // index into the scenario's steps
  int line = 0;
  std::string op_text;
  // "response", "config", "needs-reset", "resize", "device", "memslot decision",
  // "memslots (info mtree)", "core vs model"
  std::string what;
  std::string ours;  // the core's (or model's) value; listings have a line each
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
  size_t memslot_listings = 0;  // ops after which both device-memory trees were compared
  std::map<std::string, size_t> skipped_kinds;  // op kind -> count
  std::map<std::string, size_t> answers;        // QEMU's answers to requests ("ACK", "ERROR", "none ...")
  std::vector<std::string> notes;               // what was not compared, and why
  std::optional<Difference> difference;
  std::optional<std::string> error;  // QEMU could not be driven (missing, died, ...)
  std::string qemu_version;
  std::string decision;  // QEMU's memslot decision for the device, when compared
  // Every QEMU outcome and listing in order, hashed: equal digests mean
  // QEMU answered two runs alike (reused against freshly started QEMUs).
  uint64_t digest = 0;
};

DifferentialResult run_differential(const scenario::Scenario& scenario, const DifferentialOptions& options,
                                    const std::function<void(const DiffStepReport&)>& on_step = {});

// A random single-device scenario of ops QEMU can express, over one of the
// geometries of qemu_geometries(version) (chosen by `geometry`), deterministic in `seed`.
struct FuzzGeometry {
  uint64_t region;
  uint64_t block;
  uint64_t requested;
  bool unplugged_inaccessible;
  MemslotMode mode;
  uint64_t device_memory;  // the machine's device-memory area from 4 GiB (decides the memslot count)
  QemuVersion since;       // the first release that can run it
};
std::vector<FuzzGeometry> qemu_geometries(QemuVersion version);
scenario::Scenario random_qemu_scenario(uint64_t seed, const FuzzGeometry& geometry, uint64_t ops);

// The text of a difference, for people (several lines when it holds listings).
std::string describe(const Difference& difference);

}  // namespace vmemcheck::qemu
