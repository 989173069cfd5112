// One device under test: the core over a Machine (core_device_under_test.hpp),
// a QEMU over qtest and QMP (qemu/qemu_device_under_test.hpp), and whatever
// comes next (an instrumented QEMU, QEMU on KVM, a guest's recorded request
// stream). The one loop that runs them, run_compared() (compared_run.hpp),
// applies each op to every device under test and compares their outcomes and
// snapshots with each other; the core also checks itself against the
// reference model and DESIGN §3's invariants on every op.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mtree.hpp"
#include "outcome.hpp"
#include "result.hpp"
#include "scenario.hpp"
#include "wire.hpp"

namespace vmemcheck::scenario {

// The device as a management layer sees it, beside the guest's config space:
// what QEMU answers to QMP query-memory-devices, to qom-get of the device's
// (virtio-backend) and its PCI proxy's properties, and the machine's plugged
// memory (query-memory-size-summary); the core answers from its config.
// Every value QEMU gives through two paths is kept twice, so that the paths
// are compared with each other too.
struct ManagementView {
  std::string id;
  std::string memdev;  // the backend's id (QEMU: its path under /objects/)
  uint64_t memaddr = 0;
  uint64_t max_size = 0;  // the backend's size
  uint64_t block_size = 0;
  uint64_t size = 0;  // plugged
  uint64_t requested_size = 0;
  uint32_t node = 0;
  uint64_t device_size = 0;            // qom-get size, the device's own property
  uint64_t device_requested_size = 0;  // qom-get requested-size, the device's
  uint64_t device_block_size = 0;      // qom-get block-size, the device's
  uint64_t proxy_size = 0;             // qom-get size, through the proxy
  uint64_t proxy_requested_size = 0;   // qom-get requested-size, through the proxy
  uint64_t machine_plugged = 0;        // every memory device's plugged memory
  friend bool operator==(const ManagementView&, const ManagementView&) = default;
};
// One line: "id=vmem0 memdev=mem0 memaddr=0x... max-size=... ...".
std::string to_text(const ManagementView& view);

// What a device under test shows of one virtio-mem device after an op.
// An unset field is one it cannot observe; it is then not compared.
struct DeviceSnapshot {
  ConfigSpace config;
  bool needs_reset = false;
  std::optional<uint8_t> status;  // the raw virtio device status, where there is one
  std::optional<uint64_t> offered_features;  // device-specific bits (0-23)
  std::optional<uint64_t> accepted_features;  // the driver's, device-specific bits
  // The memslot decision: each memslot's size by index; empty for one memslot
  // that is the whole backend (no memslot-N children in QEMU's terms).
  std::optional<std::vector<uint64_t>> decision;
  // The device's regions in the device-memory tree: its own, then its mapped
  // memslot aliases with their guest-physical range and backend offset.
  std::optional<std::vector<MtreeRegion>> memory;
  std::string memdev;  // the name of its memory backend, which names it in the tree
  std::optional<ManagementView> management;
};

// What the first device under test made of a step, for those after it:
// some follow it (QEMU places its device where the core did, and does not
// migrate a device whose destination the core refused).
struct FirstDevice {
  const Outcome& outcome;
  std::optional<DeviceSnapshot> device;  // the device the op adds or migrates, after the op
};

class DeviceUnderTest {
 public:
  virtual ~DeviceUnderTest() = default;

  // How reports name it: "vmemcheck", "QEMU".
  virtual std::string label() const = 0;
  // The op as every device under test runs it, when this one needs another
  // form of it (QEMU's machine layout, a release's device profile). Asked in
  // order before the op runs anywhere.
  virtual Op adapt(const Op& op) { return op; }
  // Why this device under test cannot run `op`, or nullopt when it can: the
  // op then runs on none (or, once the first has run it, on no other), and
  // the reason is counted. Asked first with `first` null, then (devices
  // after the first) with what the first made of it: QEMU does not start a
  // device that the core's memslot budget refused, which QEMU under TCG lacks.
  virtual std::optional<std::string> unsupported(const Op& op, const FirstDevice* first) const = 0;
  // Runs the step (its op as adapted; its "=> OUTCOME" where the run checks
  // expectations); `first` is null for the first device under test. Error:
  // the device under test could not be driven (QEMU died, answered out of
  // protocol): the run ends there, not a difference.
  virtual Result<Outcome> apply(const Step& step, const FirstDevice* first) = 0;
  // Problems the device under test found in itself while applying the last
  // step (the core: its reference model, invariants and expectations).
  virtual std::vector<std::string> take_problems() { return {}; }
  // What the last step printed: the views 'mtree' and 'slots' ask for.
  virtual std::string take_output() { return {}; }
  // The device `id` as this device under test shows it; nullopt when it has
  // no such device.
  virtual Result<std::optional<DeviceSnapshot>> snapshot(const std::string& id) = 0;
  // Notes for the report: what it does not compare, and why.
  virtual std::vector<std::string> notes() const { return {}; }
};

}  // namespace vmemcheck::scenario
