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
