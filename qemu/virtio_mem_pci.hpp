// A minimal virtio-pci modern driver for QEMU's virtio-mem-pci, over qtest:
// PCI enumeration through ports 0xcf8/0xcfc, BAR placement, the virtio
// capabilities, feature negotiation, one split virtqueue in guest RAM, and
// requests (well-formed or malformed chains) answered synchronously on the
// notify write. Host resize and system reset go through QMP.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "device_config.hpp"
#include "qemu_process.hpp"
#include "result.hpp"
#include "wire.hpp"

namespace vmemcheck::qemu {

// q35 with less than 2 GiB of boot RAM: the device-memory area starts at 4 GiB.
inline constexpr uint64_t kQemuDeviceMemoryBase = uint64_t{4} << 30;

// Where the scenario's device sits: QEMU's properties for it.
struct QemuGeometry {
  std::string id = "vmem0";
  std::string memdev = "mem0";  // the memory backend's id, which names its region in `info mtree`
  uint64_t region_size = 0;
  uint64_t block_size = 2 * MiB;
  uint64_t requested_size = 0;
  std::optional<uint64_t> addr;  // memaddr=
  bool unplugged_inaccessible = true;
  std::optional<bool> dynamic_memslots;  // dynamic-memslots= (unset: not given, as 7.2 has no such property)
  uint16_t node = 0;
  uint32_t numa_nodes = 1;
  // maxmem less the boot RAM: the memory-device space QEMU decides memslots
  // for, the core's device_memory_size. (The device-memory region pc
  // machines build from 4 GiB on is 1 GiB per memory slot larger, room for
  // alignment.) 0: just large enough for the device.
  uint64_t device_memory_size = 0;
  // ioeventfd=off (a property 7.2 lacks): QEMU 10 otherwise handles a queue
  // notify later, in its main loop, and the driver reads the used ring
  // before the request was handled; off, it is handled on the notify write.
  bool synchronous_notify = false;
  // A CPU with 46 physical-address bits (and Intel's layout, which has no
  // HyperTransport hole below 1 TiB) for areas past qemu64's 40 bits.
  bool large_addresses = false;

  friend bool operator==(const QemuGeometry&, const QemuGeometry&) = default;
};

// The command-line arguments (after QEMU's own -S and sockets) for a q35
// machine with 128 MiB of boot RAM and this one device.
std::vector<std::string> qemu_arguments(const QemuGeometry& geometry);
// Why a geometry cannot be expressed on QEMU's command line, if it cannot.
// `area_end`: where the device-memory area QEMU gets ends (0: the device's end).
std::optional<std::string> inexpressible(const DeviceConfig& config, uint32_t numa_nodes, uint64_t area_end,
                                         bool large_addresses);
// The device-memory area ends at most here: qemu64's 40 address bits, or
// 46 with `large_addresses`, less room for the 64-bit PCI hole above it.
uint64_t max_area_end(bool large_addresses);

// A chain as the driver builds it: the readable part holds the 24-byte
// request (truncated or padded with zeros), the writable part takes the answer.
struct Chain {
  uint16_t type = 0;
  uint64_t addr = 0;
  uint16_t nb_blocks = 0;
  uint64_t readable = kRequestSize;
  uint64_t writable = kResponseSize;
};

// The device status bit a device sets when it needs a reset (virtio 1.x, 2.1).
inline constexpr uint8_t kStatusNeedsReset = 0x40;

// What the driver reads after every op: the config space, the device
// status and (when asked for) the device-memory tree of `info mtree`.
struct DeviceState {
  ConfigSpace config;
  uint8_t status = 0;
  std::optional<std::vector<std::string>> tree;
  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

struct Answer {
  std::optional<Response> response;  // none: the chain was not used
  uint32_t used_len = 0;
};

class VirtioMemPci {
 public:
  static Result<std::unique_ptr<VirtioMemPci>> start(const std::string& binary, const QemuGeometry& geometry);

  // The largest readable or writable part a chain may have (the driver's buffers).
  static constexpr uint64_t kMaxPart = 0x10000;

  Result<Answer> request(const Chain& chain);
  Result<ConfigSpace> config();
  // One qtest round trip for the config space and status, with `info mtree`
  // rendered meanwhile when `with_tree`: the device-memory region of address
  // space "memory", its container line and every region inside, indented
  // from 0 as render_mtree does.
  Result<DeviceState> read_state(bool with_tree);
  uint64_t offered_features() const { return offered_; }
  uint64_t accepted_features() const { return accepted_; }
  // QMP qom-set requested-size: ok, or QEMU's error message (not an Error: a refusal).
  Result<std::optional<std::string>> resize(uint64_t requested);
  // QMP system_reset, waits for the RESET event, then re-initialises the driver.
  Status system_reset();
  // A driver that accepts exactly these device feature bits (plus VERSION_1):
  // whether the device kept FEATURES_OK. The driver re-initialises afterwards.
  Result<bool> try_features(uint64_t device_features);
  // Driver-initiated virtio reset (status 0), then re-initialisation.
  Status virtio_reset();
  // Migrates the VM to a fresh QEMU of `destination` (started with
  // -incoming, over a UNIX socket) and drives that one from now on; the
  // driver's state (BAR, queue, indices) travels with the VM. `plugged`
  // (bytes) sets the deadline: 20 s and 10 s per GiB.
  Status migrate(const std::string& binary, const QemuGeometry& destination, uint64_t plugged);
  // The memslots the device decided on (QOM children memslot-N[0] of its
  // virtio-backend, mapped or not): their sizes by index. None without
  // dynamic-memslots. Read once: QEMU decides when the device is plugged.
  Result<std::vector<uint64_t>> decided_memslots();
  QemuProcess& process() { return *process_; }

 private:
  VirtioMemPci() = default;
  Status enumerate();  // PCI: find the device and its capabilities (once), place the BAR, enable it
  Status find_capabilities();
  Status initialise();  // virtio: reset, features, queue, DRIVER_OK
  // Reset, then FEATURES_OK with these bits (default: what a driver accepts); whether it stuck.
  Result<bool> negotiate(std::optional<uint64_t> accept);
  Result<uint32_t> pci_read(uint8_t offset);
  std::vector<std::string> pci_write_commands(uint8_t offset, uint32_t value) const;
  static Result<std::vector<std::string>> device_memory_tree_from(const Result<std::string>& answer);

  std::unique_ptr<QemuProcess> process_;
  std::string id_;
  uint32_t devfn_address_ = 0;  // 0x80000000 | bus/dev/fn
  uint8_t bar_offset_ = 0;      // the virtio BAR's config-space offset
  bool bar_is_64bit_ = false;
  uint32_t command_register_ = 0;  // as QEMU resets it
  uint64_t common_ = 0, notify_ = 0, isr_ = 0, device_ = 0;
  uint32_t notify_multiplier_ = 0;
  uint64_t notify_addr_ = 0;
  uint16_t queue_size_ = 0;
  uint16_t avail_idx_ = 0, used_idx_ = 0;
  uint64_t offered_ = 0, accepted_ = 0;
  std::optional<std::vector<uint64_t>> decided_;
};

}  // namespace vmemcheck::qemu
