// A virtio-mem device's host-side configuration (its QEMU properties) and the
// validation that refuses a bad one with a message naming the problem.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "result.hpp"
#include "units.hpp"

namespace vmemcheck {

// How the device's region is cut into memslots and which of them are mapped
// (memslot_policy.hpp has the rules of each).
enum class MemslotMode {
  Static,    // one memslot, the whole region always mapped (QEMU's old default)
  Count,     // v1 (seed 002): memslots=N, slots mapped while inside the usable region
  Multiple,  // v2 (seed 001): multiple-memslots=on, count decided from the machine's limit
  Dynamic,   // v4 (seeds 000/003/004): dynamic-memslots=on, slots mapped while holding plugged blocks
  Fixed,     // Firecracker: fixed-size slots, mapped while holding plugged blocks
};

enum class Arch { X86_64, Arm64, S390x };

// Firecracker's default memslot size for its virtio-mem device.
inline constexpr uint64_t kDefaultFixedSlotSize = 128 * MiB;

struct DeviceConfig {
  std::string id = "vmem0";
  std::string memdev = "mem0";
  std::optional<uint64_t> addr;  // unset: the machine assigns one
  uint64_t region_size = 0;
  uint64_t block_size = 2 * MiB;
  uint64_t requested_size = 0;
  uint16_t node = 0;
  uint64_t page_size = 4 * KiB;  // the memory backend's page size
  Arch arch = Arch::X86_64;
  bool acpi = true;  // ACPI_PXM is offered when the machine has ACPI
  bool unplugged_inaccessible = true;
  bool persistent_suspend = false;
  MemslotMode mode = MemslotMode::Static;
  uint32_t memslots = 1;                  // Count mode: the user's memslot count
  uint64_t fixed_slot_size = kDefaultFixedSlotSize;  // Fixed mode: the slot size

  friend bool operator==(const DeviceConfig&, const DeviceConfig&) = default;
};

// Guest-physical addresses on x86-64 (and our KVM guests) have at most 52 bits;
// devices must end below this, which also keeps every size sum in 64 bits.
inline constexpr uint64_t kMaxGuestPhysical = uint64_t{1} << 52;
// QEMU refuses a memory device whose size is not a multiple of its memory
// region's alignment (memory_device_pre_plug, hw/mem/memory-device.c). The
// region of a memory-backend-ram (the backend vmemcheck models and starts
// QEMU with) is aligned to QEMU_VMALLOC_ALIGN, 2 MiB on an x86-64 Linux host
// (qemu_anon_ram_alloc), whatever its page size. A file or memfd backend's
// is its page size (qemu_ram_alloc_from_fd), which the block size already
// covers (block >= page size, both powers of two), so the rule only adds
// anything for blocks below 2 MiB. It holds for every mode: Firecracker
// (mode=fixed) wants blocks of at least 2 MiB and a size that is a multiple
// of its slots (MemoryHotplugConfig::validate), and `vmemcheck qemu` runs
// every mode's device on QEMU.
inline constexpr uint64_t kQemuRamBackendAlign = 2 * MiB;
// The alignment of the device's address: QEMU's memory-device core places
// (first fit) and accepts (memaddr=) a device at multiples of the larger of
// its block size and its region's alignment (memory_device_pre_plug,
// memory_device_get_free_addr).
uint64_t placement_alignment(const DeviceConfig& config);
// Largest user memslot count of v1 (seed 002: "we limit the number of memslots to 1024").
inline constexpr uint32_t kMaxUserMemslots = 1024;

// The bytes past requested_size the usable region extends (DESIGN §6).
uint64_t usable_extent(Arch arch);
// The feature bits the device offers.
uint64_t offered_features(const DeviceConfig& config);
// The driver's FEATURES_OK: refused when the device offers
// UNPLUGGED_INACCESSIBLE and the driver does not accept it (such a driver
// might read unplugged memory; QEMU's virtio_mem_validate_features). Bits
// the device does not offer are dropped, not refused, as QEMU's
// virtio_set_features_nocheck (hw/virtio/virtio.c: val &= host_features)
// and Firecracker's ack_features_by_page do. Gives the negotiated bits.
Result<uint64_t> negotiate_features(const DeviceConfig& config, uint64_t driver_features);

// DESIGN §6 "Device configuration errors". `numa_nodes` is the machine's node
// count. The address is checked only when set.
Status validate(const DeviceConfig& config, uint32_t numa_nodes);

std::string_view name(MemslotMode mode);
std::optional<MemslotMode> parse_memslot_mode(std::string_view text);
std::string_view name(Arch arch);
std::optional<Arch> parse_arch(std::string_view text);

}  // namespace vmemcheck
