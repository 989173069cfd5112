// The virtio-pci modern transport (virtio 1.x, 4.1) of one PCI function,
// over qtest: its capabilities (common, notify, ISR and device
// configuration, all in one memory BAR), BAR placement, the device status,
// feature negotiation and the queue registers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pci_config.hpp"
#include "qemu_process.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

// The device status bit a device sets when it needs a reset (virtio 1.x, 2.1).
inline constexpr uint8_t kStatusNeedsReset = 0x40;
// Feature bits 0-23 are the device type's own (virtio 1.x, 6).
inline constexpr uint64_t kDeviceFeatureBits = 0xffffff;

struct QueueRings {
  uint64_t desc = 0, avail = 0, used = 0;
};

class VirtioPciTransport {
 public:
  // Reads the function's virtio capabilities (once: they do not change);
  // its BAR will sit at `bar_base`. Error: not a modern virtio-pci function
  // this driver can drive (capabilities in several BARs, an I/O BAR).
  static Result<VirtioPciTransport> probe(QemuProcess& process, PciFunction function, uint64_t bar_base);

  // Places the BAR and enables memory space and bus mastering (again after
  // every system reset, which clears them).
  Status enable(QemuProcess& process) const;
  // Reset, ACKNOWLEDGE and DRIVER, then FEATURES_OK with VERSION_1 and
  // `accept` (default: `default_accept` of what the device offers):
  // whether the device kept FEATURES_OK.
  Result<bool> negotiate(QemuProcess& process, std::optional<uint64_t> accept, uint64_t default_accept);
  // Queue `index`: its size (error when 0 or above 1024) and where to notify it.
  struct Queue {
    uint16_t size = 0;
    uint64_t notify_addr = 0;
  };
  Result<Queue> select_queue(QemuProcess& process, uint16_t index) const;
  // The commands that hand the selected queue its rings (and a size, when
  // not the device's) and enable it, then set DRIVER_OK.
  std::vector<std::string> enable_queue_commands(const QueueRings& rings, std::optional<uint16_t> size = {}) const;
  // The command that reads the device status byte.
  std::string status_read_command() const;
  // Commands reading the device configuration (`bytes`, in dwords) and then the status byte.
  std::vector<std::string> config_and_status_reads(size_t bytes) const;

  uint64_t offered() const { return offered_; }
  PciFunction function() const { return function_; }
  uint64_t accepted() const { return accepted_; }

 private:
  PciFunction function_ = 0;
  uint64_t bar_base_ = 0;
  uint8_t bar_offset_ = 0;  // the virtio BAR's configuration-space offset
  bool bar_is_64bit_ = false;
  uint32_t command_register_ = 0;  // as QEMU resets it
  uint64_t common_ = 0, notify_ = 0, device_ = 0;
  uint32_t notify_multiplier_ = 0;
  uint64_t offered_ = 0, accepted_ = 0;
};

}  // namespace vmemcheck::qemu
