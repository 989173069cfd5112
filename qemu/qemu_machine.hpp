// The q35 machine vmemcheck starts QEMU with: its command line for one
// virtio-mem-pci device (QemuGeometry), and what cannot be expressed on it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "device_config.hpp"
#include "machine.hpp"
#include "qemu_process.hpp"
#include "units.hpp"

namespace vmemcheck::qemu {

// q35 with less than 2 GiB of boot RAM: the device-memory area starts at 4 GiB.
inline constexpr uint64_t kQemuDeviceMemoryBase = uint64_t{4} << 30;

// A further virtio-mem-pci in the same machine, started with the first and
// not driven (vmemcheck qemu --accel kvm: its memslots are compared on KVM).
struct FurtherDevice {
  std::string id;
  std::string memdev;
  uint64_t region_size = 0;
  uint64_t block_size = 2 * MiB;
  uint64_t requested_size = 0;
  uint64_t addr = 0;
  std::optional<bool> dynamic_memslots;  // unset: not given (7.2 has no such property)
  friend bool operator==(const FurtherDevice&, const FurtherDevice&) = default;
};

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
  // The accelerator: "tcg", or "kvm" on a real /dev/kvm (vmemcheck qemu
  // --accel kvm), with QEMU's kvm_set_user_memory trace events written to
  // `kvm_trace` when set.
  std::string accel = "tcg";
  std::string kvm_trace;
  // -machine q35,smm=on|off (unset: QEMU's default, on where the accelerator
  // has SMM). On KVM, SMM's address space 1 mirrors the device's memslots,
  // as the core's machine smm=on does; QEMU refuses smm=on on a KVM without it.
  std::optional<bool> smm;
  std::vector<FurtherDevice> further;
  // prealloc=on: QEMU preallocates the blocks a plug adds (and a migration's
  // destination the plugged ones) before it answers; the driver sees the
  // same answers (vmemcheck qemu --prealloc).
  bool prealloc = false;
  // Leave to QEMU what its defaults give anyway (vmemcheck qemu
  // --qemu-defaults): no block-size= for 2 MiB (the THP size, x86's default
  // for a RAM backend), and unplugged-inaccessible=auto for off (on x86 a
  // private RAM backend has the shared zeropage, so auto means off).
  bool qemu_defaults = false;
  // x-early-migration=off (vmemcheck qemu --late-migration): the device's
  // state migrates after the RAM, as before QEMU 8.2's early migration.
  bool late_migration = false;
  // The device's backend with share=on (vmemcheck qemu --shared-memory), and
  // migrations with x-ignore-shared (its RAM is not sent). Such a backend
  // has no shared zeropage, so QEMU's auto would mean on: qemu_defaults then
  // keeps unplugged-inaccessible=off.
  bool shared_memory = false;
  // The device on its own pcie-root-port (hotplug_port()), a hotplug slot,
  // so that device_del can remove it: q35's pcie.0 does not hotplug.
  bool hotplug_slot = false;

  friend bool operator==(const QemuGeometry&, const QemuGeometry&) = default;
};

// The id of the pcie-root-port a device with a hotplug slot sits on.
std::string hotplug_port(const std::string& device_id);

// The command-line arguments (after QEMU's own -S and sockets) for a q35
// machine with 128 MiB of boot RAM and this one device.
std::vector<std::string> qemu_arguments(const QemuGeometry& geometry);
// The same machine (the first geometry's: boot RAM, NUMA, memory-device
// space, CPU) with several devices, in this order on the command line; the
// others' machine fields are not read. Without a memory-device space, one
// just fitting the device that ends last.
std::vector<std::string> qemu_arguments(std::span<const QemuGeometry> devices);
// What QEMU may refuse of that command line at start: the device and its
// memory backend, as its error messages name them (QemuRefusedDevice).
std::vector<LaunchOptions::Refusal> refusals(const QemuGeometry& geometry);
std::vector<LaunchOptions::Refusal> refusals(std::span<const QemuGeometry> devices);
// A q35 machine alone with the core's machine configuration: its
// memory-device space and the CPU's physical address bits; QEMU checks
// the space against them when it starts (pc_memory_init), with or without
// a device. Its refusal in QEMU's words: PhysBits.
LaunchOptions machine_probe(const std::string& binary, const MachineConfig& machine, uint32_t phys_bits);
// Why a geometry cannot be expressed on QEMU's command line, if it cannot.
// `area_end`: where the device-memory area QEMU gets ends (0: the device's end).
std::optional<std::string> inexpressible(const DeviceConfig& config, uint32_t numa_nodes, uint64_t area_end,
                                         bool large_addresses);
// The device-memory area ends at most here: qemu64's 40 address bits, or
// 46 with `large_addresses`, less room for the 64-bit PCI hole above it.
uint64_t max_area_end(bool large_addresses);

}  // namespace vmemcheck::qemu
