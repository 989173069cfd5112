#include "reference_config.hpp"

#include <algorithm>

namespace vmemcheck {
namespace {
__extension__ using u128 = unsigned __int128;

bool power_of_two(uint64_t value) {
  for (uint64_t p = 1; p != 0; p <<= 1) {
    if (p == value) return true;
  }
  return false;
}

bool multiple(uint64_t value, uint64_t of) { return value % of == 0; }

u128 round_up(u128 value, uint64_t to) { return (value + to - 1) / to * to; }
}  // namespace

std::optional<std::string_view> reference_config_error(const DeviceConfig& c, uint32_t numa_nodes) {
  if (!power_of_two(c.page_size)) return "the backend page size is not a power of two";
  if (!power_of_two(c.block_size)) return "block-size is not a power of two";
  if (c.block_size < MiB) return "block-size is below 1 MiB";
  if (c.block_size < c.page_size) return "block-size is below the backend page size";
  if (c.region_size == 0 || !multiple(c.region_size, c.block_size)) return "size is not a non-zero multiple of block-size";
  // QEMU's memory-device core (memory_device_pre_plug): the size is a multiple
  // of a memory-backend-ram's alignment, 2 MiB on x86-64 (Firecracker's
  // blocks are at least that).
  if (!multiple(c.region_size, 2 * MiB)) {
    return "size is not a multiple of the RAM backend's 2 MiB alignment";
  }
  if (u128{c.region_size} > u128{1} << 52) return "size exceeds the 52-bit guest-physical address space";
  if (!multiple(c.requested_size, c.block_size)) return "requested-size is not a multiple of block-size";
  if (c.requested_size > c.region_size) return "requested-size exceeds size";
  if (c.addr && !multiple(*c.addr, c.block_size)) return "addr is not a multiple of block-size";
  // QEMU's memory-device core also aligns the address to the RAM backend's
  // 2 MiB (memory_device_get_free_addr).
  if (c.addr && !multiple(*c.addr, 2 * MiB)) return "addr is not a multiple of 2 MiB";
  if (c.addr && u128{*c.addr} + c.region_size > u128{1} << 52) return "the device ends beyond 52 bits";
  if (c.node >= numa_nodes) return "node does not exist";
  if (c.mode == MemslotMode::Dynamic && !c.unplugged_inaccessible) {
    return "dynamic-memslots needs unplugged-inaccessible";
  }
  if (c.mode != MemslotMode::Count && c.memslots != 1) return "memslots= given outside mode=count";
  if (c.mode != MemslotMode::Fixed && c.fixed_slot_size != kDefaultFixedSlotSize) {
    return "slot-size= given outside mode=fixed";
  }
  if (c.mode == MemslotMode::Count && (c.memslots < 1 || c.memslots > 1024)) return "memslots outside 1..1024";
  if (c.mode == MemslotMode::Fixed) {
    if (c.fixed_slot_size == 0 || !multiple(c.fixed_slot_size, c.block_size)) {
      return "slot-size is not a non-zero multiple of block-size";
    }
    if (!c.unplugged_inaccessible) return "fixed-size memslots need unplugged-inaccessible";
  }
  return std::nullopt;
}

// Written from QEMU 10's hw/i386/pc.c: the device-memory region is the area
// and 1 GiB for its one memory slot; the 32 GiB 64-bit PCI hole starts at the
// next GiB boundary after it, and its last byte must be addressable.
std::optional<std::string_view> reference_machine_error(uint64_t area_base, uint64_t area_size, uint32_t phys_bits) {
  const u128 hole_start = round_up(u128{area_base} + area_size + GiB, GiB);
  const u128 hole_last = hole_start + 32 * u128{GiB} - 1;
  if (hole_last >= u128{1} << phys_bits) return "the 64-bit PCI hole after the device memory lies beyond phys-bits";
  return std::nullopt;
}

std::optional<std::string_view> reference_placement_error(const DeviceConfig& c, uint64_t area_base,
                                                          uint64_t area_size,
                                                          const std::vector<std::pair<uint64_t, uint64_t>>& taken) {
  if (!c.addr) return std::nullopt;
  const u128 start = *c.addr;
  const u128 end = start + c.region_size;
  if (start < area_base || end > u128{area_base} + area_size) return "outside the device-memory area";
  for (const auto& [other_start, other_end] : taken) {
    if (start < other_end && other_start < end) return "overlaps another memory device";
  }
  return std::nullopt;
}

// The lowest fitting address is the area's start or the end of a device,
// rounded up to block-size and to the RAM backend's 2 MiB: try each, lowest first.
std::optional<uint64_t> reference_first_fit(const DeviceConfig& c, uint64_t area_base, uint64_t area_size,
                                            const std::vector<std::pair<uint64_t, uint64_t>>& taken) {
  const uint64_t align = std::max<uint64_t>(c.block_size, 2 * MiB);
  std::vector<u128> candidates{round_up(area_base, align)};
  for (const auto& [other_start, other_end] : taken) candidates.push_back(round_up(other_end, align));
  std::sort(candidates.begin(), candidates.end());
  for (const u128 start : candidates) {
    const u128 end = start + c.region_size;
    if (start < area_base || end > u128{area_base} + area_size) continue;
    const bool overlaps = std::any_of(taken.begin(), taken.end(), [&](const auto& other) {
      return start < other.second && other.first < end;
    });
    if (!overlaps) return static_cast<uint64_t>(start);
  }
  return std::nullopt;
}

}  // namespace vmemcheck
