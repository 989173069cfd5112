// The machine-level memory-device core: several memory devices in one
// device-memory area (address assignment, alignment), the machine-wide
// memslot budget (soft limit, reservations, vhost), over one KVM VM.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "device.hpp"
#include "fault_injection.hpp"
#include "host_memory.hpp"
#include "kvm_slot_backend.hpp"
#include "kvm_vm.hpp"

namespace vmemcheck {

// DESIGN §6: memory devices share at most 256 memslots when deciding
// automatically, and only decide on several when at least 509 are free.
inline constexpr uint32_t kMemslotSoftLimit = 256;
inline constexpr uint32_t kMemslotSafeMax = 509;

struct MachineConfig {
  uint64_t device_memory_base = 0x140000000;  // pc: after 4 GiB of boot RAM, 1 GiB aligned
  uint64_t device_memory_size = 2 * TiB;
  uint32_t numa_nodes = 1;
  uint32_t reserved_memslots = 8;  // boot memory, PCI BARs, ROMs: not memory devices
  bool smm = false;                // mirror memslots into the SMM address space
  friend bool operator==(const MachineConfig&, const MachineConfig&) = default;
};

// QEMU 10's q35 refuses at start a machine whose guest cannot address all it
// may use (pc_memory_init, hw/i386/pc.c): the last byte of the 64-bit PCI
// hole, which follows the device-memory region (pc_pci_hole64_start), must
// lie below 2^phys-bits. The region is the memory-device space plus 1 GiB of
// alignment room per memory slot (pc_get_device_memory_range; vmemcheck's
// machines have one slot, as `vmemcheck qemu` starts QEMU with slots=1); the
// hole starts at its end rounded up to 1 GiB and is 32 GiB long on q35
// (Q35_PCI_HOST_HOLE64_SIZE_DEFAULT). Measured: phys-bits=36 starts with
// maxmem=27G and 128M of RAM (last byte 0xfffffffff) and refuses 28G.
inline constexpr uint64_t kMemorySlotAlignRoom = GiB;
inline constexpr uint64_t kQ35PciHole64Size = 32 * GiB;
// The highest guest-physical address the machine may use, by that rule.
uint64_t max_used_gpa(const MachineConfig& config);
// Error, with QEMU's message, when `phys_bits` cannot address max_used_gpa().
Status check_phys_bits(const MachineConfig& config, uint32_t phys_bits);

struct VhostBackend {
  std::string name;
  uint32_t max_memslots = 0;
  friend bool operator==(const VhostBackend&, const VhostBackend&) = default;
};

// The machine's memslot accounting at one moment.
struct MemslotBudget {
  uint64_t max = 0;       // min over KVM and vhost backends
  uint64_t free = 0;      // min over backends of max - used (incl. other consumers)
  uint64_t required = 0;  // memslots promised to memory devices
  uint64_t used = 0;      // memory-device memslots mapped now
  uint64_t reserved() const { return required - used; }
};

class Machine {
 public:
  Machine(MachineConfig config, KvmVm& vm, HostMemory& host);
  ~Machine();
  Machine(const Machine&) = delete;
  Machine& operator=(const Machine&) = delete;

  // Pre-plug and plug of a memory device: memslot decision, budget check,
  // address assignment (first fit when the config has none), realize.
  Result<VirtioMemDevice*> add_device(DeviceConfig config);
  // Hot-remove: only with nothing plugged and requested-size 0.
  Status remove_device(const std::string& id);
  // The guest ejects the device's hotplug slot without the host asking
  // (ACPI _EJ0): it goes whatever it holds, as QEMU 10.0 lets it (the
  // checks above are the host's device_del's).
  Status eject_device(const std::string& id);
  Status add_vhost(VhostBackend vhost);
  // Replaces a device by a fresh one of `config` (same id and address) that
  // loads the migrated state of the old one: a migration whose destination
  // may differ in its memslot setting. `in_transit` may change the state on
  // its way (a corrupted or mismatching stream, which the destination must
  // refuse). A failed migration leaves the source as it was; it is restored
  // with every injected fault disarmed, as the source VM never stopped.
  using StreamEdit = std::function<void(MigrationState&)>;
  Status migrate_device(const std::string& id, DeviceConfig destination, const StreamEdit& in_transit = {});
  void system_reset();

  VirtioMemDevice* find(const std::string& id) const;
  // The devices in the order they were added (no copy: the checks walk it
  // after every step).
  std::span<VirtioMemDevice* const> devices() const { return device_list_; }
  MemslotBudget budget() const;
  // Bytes the devices occupy in the device-memory area.
  uint64_t used_region_size() const;
  // The limit an automatically deciding device of `size` bytes would get now.
  uint64_t auto_memslot_limit(uint64_t size) const;
  Result<uint64_t> memslot_limit_for(const DeviceConfig& config) const;
  bool has_auto_multi_memslot_device() const;

  const MachineConfig& config() const { return config_; }
  FaultInjectingBackend& backend() { return faults_; }
  KvmSlotBackend& kvm_backend() { return kvm_backend_; }
  const KvmSlotBackend& kvm_backend() const { return kvm_backend_; }
  GuestMemory& guest_memory() { return kvm_backend_; }
  const std::vector<VhostBackend>& vhosts() const { return vhosts_; }

 private:
  Result<uint64_t> assign_address(const DeviceConfig& config) const;
  uint32_t decided_memslots(const DeviceConfig& config) const;

  MachineConfig config_;
  KvmVm& vm_;
  KvmSlotBackend kvm_backend_;
  FaultInjectingBackend faults_;
  std::vector<VhostBackend> vhosts_;
  std::vector<std::unique_ptr<VirtioMemDevice>> devices_;
  std::vector<VirtioMemDevice*> device_list_;  // devices_ as plain pointers, for devices()
  void list_devices();  // after every change to devices_
  DeviceHandle next_handle_ = 0;
};

}  // namespace vmemcheck
