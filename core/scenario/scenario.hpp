// The scenario language: one list of operations that people write as text
// (tests/scenarios/*.vmem), that fuzz inputs decode into, that the replay
// tool prints, and that Z3 counterexamples are written as.
//
// Text form, one operation per line, '#' starts a comment:
//   machine [base=ADDR] [size=SIZE] [numa-nodes=N] [reserved-memslots=N] [smm=on|off]
//           [kvm-memslots=N] [phys-bits=N] [tdp-mmu=on|off] [dirty-logging=on|off]
//   device ID size=SIZE [block=SIZE] [requested=SIZE] [addr=ADDR] [node=N] [memdev=NAME]
//           [mode=static|count|multiple|dynamic|fixed] [memslots=N] [slot-size=SIZE]
//           [unplugged-inaccessible=on|off] [page-size=SIZE] [arch=x86_64|arm64|s390x]
//           [acpi=on|off] [persistent-suspend=on|off]
//   plug ID ADDR NB | unplug ID ADDR NB | state ID ADDR NB | unplug-all ID
//   raw ID type=N [addr=ADDR] [nb=N] [readable=N] [writable=N]
//   resize ID SIZE | reset | virtio-reset ID | busy ID on|off | remove ID
//   features ID BITS   (the driver's accepted feature bits)
//   migrate ID [device options of the destination] [stream=EDIT] [fail=map|discard]
//           (stream: the state arrives corrupted or mismatching, see kStreamEdits;
//            fail: the destination's first such backend call fails)
//   fail map|populate|discard|attach [device=ID] [skip=N]
//           (without device=: the next device added, its attach and realize only)
//   vhost NAME max=N
//   write ID ADDR VALUE | read ID ADDR
//   queue ID [size=N] [desc=ADDR] [avail=ADDR] [used=ADDR]   (the driver sets up the virtqueue)
//   poke ADDR HEXBYTES   (the driver writes bytes into guest memory: rings, descriptors, requests)
//   kick ID              (the device services its virtqueue)
//   mtree | slots
//   expect [ID] KEY=VALUE...
//   checkpoint ID plugged=SIZE requested=SIZE usable=SIZE [region=REGION]...
//           (what a recorded QEMU showed of the device; REGION is
//            DEPTH,START,LAST,PRIO,TYPE,NAME[,TARGET,OFFSET], one of its info mtree lines)
// ADDR is a guest-physical address, or "+OFFSET" relative to the device.
// Any operation may end in "=> OUTCOME": the run fails unless the outcome
// starts with it (e.g. "=> ACK", "=> ACK MIXED", "=> error", "=> unmapped").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "device_config.hpp"
#include "fault_injection.hpp"
#include "machine.hpp"
#include "mtree.hpp"
#include "result.hpp"
#include "shadow_kvm.hpp"
#include "virtqueue.hpp"
#include "wire.hpp"

namespace vmemcheck::scenario {

// A guest-physical address, absolute or relative to a device's base.
struct Address {
  uint64_t value = 0;
  bool relative = false;
  friend bool operator==(const Address&, const Address&) = default;
};

struct ConfigureMachine {
  MachineConfig machine;
  KvmLimits kvm;
  MetadataModel metadata;
  friend bool operator==(const ConfigureMachine&, const ConfigureMachine&) = default;
};
struct AddDevice {
  DeviceConfig config;
  friend bool operator==(const AddDevice&, const AddDevice&) = default;
};
struct RemoveDevice {
  std::string device;
  // `eject ID`: the guest ejects the device's hotplug slot, unasked, instead
  // of the host's device_del (Machine::eject_device).
  bool by_guest = false;
  friend bool operator==(const RemoveDevice&, const RemoveDevice&) = default;
};
struct GuestRequest {
  std::string device;
  RequestType type = RequestType::State;
  Address addr;
  uint16_t nb_blocks = 0;
  friend bool operator==(const GuestRequest&, const GuestRequest&) = default;
};
// A request chain as the transport saw it; may be a protocol violation.
struct RawRequest {
  std::string device;
  uint16_t type = 0;
  Address addr;
  uint16_t nb_blocks = 0;
  uint64_t readable = kRequestSize;
  uint64_t writable = kResponseSize;
  friend bool operator==(const RawRequest&, const RawRequest&) = default;
};
struct Resize {
  std::string device;
  uint64_t requested = 0;
  friend bool operator==(const Resize&, const Resize&) = default;
};
struct SystemReset {
  friend bool operator==(const SystemReset&, const SystemReset&) = default;
};
struct VirtioReset {
  std::string device;
  // `flr`: by a PCIe function-level reset instead of the virtio status.
  // The device resets alike (its plugged memory stays: QEMU 10.0 unplugs
  // only on a system reset, the fix of a 9.2 bug that unplugged on any
  // device reset); only the transport differs, which QEMU then also resets.
  bool function_level = false;
  friend bool operator==(const VirtioReset&, const VirtioReset&) = default;
};
struct SetBusy {
  std::string device;
  bool busy = false;
  friend bool operator==(const SetBusy&, const SetBusy&) = default;
};
// The driver's feature negotiation.
struct NegotiateFeatures {
  std::string device;
  uint64_t driver_features = 0;
  friend bool operator==(const NegotiateFeatures&, const NegotiateFeatures&) = default;
};
// What a Migrate's "stream=" option does to the migrated state on its way.
// Each breaks one check of the destination's load (DESIGN §6 "Migration":
// addr, size, block size and node must match; the rest must be consistent).
inline constexpr std::string_view kStreamEdits[] = {"addr",         "region-size",      "block-size",
                                                    "node",         "bitmap-size",      "plugged-size",
                                                    "usable",       "usable-unaligned", "requested",
                                                    "requested-beyond", "beyond-usable"};

// Options given on the line, applied over the source device's configuration.
struct Migrate {
  std::string device;
  std::vector<std::pair<std::string, std::string>> overrides;
  friend bool operator==(const Migrate&, const Migrate&) = default;
};
struct InjectFault {
  FaultKind kind = FaultKind::Map;
  std::optional<std::string> device;
  uint32_t skip = 0;
  friend bool operator==(const InjectFault&, const InjectFault&) = default;
};
struct AddVhost {
  VhostBackend vhost;
  friend bool operator==(const AddVhost& a, const AddVhost& b) {
    return a.vhost.name == b.vhost.name && a.vhost.max_memslots == b.vhost.max_memslots;
  }
};
// A vCPU-style 8-byte access (invariant 7).
struct GuestAccess {
  std::string device;
  Address addr;
  std::optional<uint64_t> write_value;  // unset: a read
  friend bool operator==(const GuestAccess&, const GuestAccess&) = default;
};
// The driver sets up (and enables) the device's virtqueue in guest RAM.
struct SetupQueue {
  std::string device;
  QueueLayout layout;
  friend bool operator==(const SetupQueue&, const SetupQueue&) = default;
};
// The driver writes bytes at a guest-physical address (boot RAM or device memory).
struct Poke {
  uint64_t gpa = 0;
  std::vector<uint8_t> bytes;
  friend bool operator==(const Poke&, const Poke&) = default;
};
// The driver notifies the device: it services every available chain.
struct Kick {
  std::string device;
  friend bool operator==(const Kick&, const Kick&) = default;
};
struct ShowMtree {
  friend bool operator==(const ShowMtree&, const ShowMtree&) = default;
};
struct ShowSlots {
  friend bool operator==(const ShowSlots&, const ShowSlots&) = default;
};
// What a recorded device under test (a real guest's QEMU, qemu/guest_recording)
// showed of a device at a checkpoint: config fields QEMU reported and the
// device's regions in its `info mtree`. The core only acknowledges it; the
// comparison loop compares the recording's snapshot with the core's.
struct Checkpoint {
  std::string device;
  uint64_t plugged = 0;
  uint64_t requested = 0;
  uint64_t usable = 0;
  std::vector<MtreeRegion> regions;  // the device's own region, then its mapped memslot aliases
  friend bool operator==(const Checkpoint&, const Checkpoint&) = default;
};
struct Expect {
  std::optional<std::string> device;
  std::vector<std::pair<std::string, std::string>> checks;
  friend bool operator==(const Expect&, const Expect&) = default;
};

using Op = std::variant<ConfigureMachine, AddDevice, RemoveDevice, GuestRequest, RawRequest, Resize,
                        SystemReset, VirtioReset, SetBusy, NegotiateFeatures, Migrate, InjectFault, AddVhost,
                        GuestAccess, SetupQueue, Poke, Kick, ShowMtree, ShowSlots, Expect, Checkpoint>;

// The longest poke, in bytes (a page: a descriptor table of 128 entries is 2 KiB).
inline constexpr size_t kMaxPokeBytes = 4096;

struct Step {
  Op op;
  std::optional<std::string> expected;  // "=> OUTCOME"
  int line = 0;                         // 1-based source line, 0 when decoded from bytes
  friend bool operator==(const Step&, const Step&) = default;
};

struct Scenario {
  std::string name;  // file name or "<input>"
  std::vector<Step> steps;
};

// Parses the text form. Errors read "NAME:LINE: problem".
Result<Scenario> parse(std::string_view text, std::string_view name);
Result<Scenario> parse_file(const std::string& path);

// The text form of one operation (without "=> ..."); parse(to_text(op)) == op.
std::string to_text(const Op& op);
std::string to_text(const Scenario& scenario);

// Applies "key=value" device options (as on a device line) to a config.
Status apply_device_option(DeviceConfig& config, std::string_view key, std::string_view value);

}  // namespace vmemcheck::scenario
