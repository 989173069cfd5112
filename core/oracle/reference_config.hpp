// Which configuration rule a device breaks, written again from DESIGN §6
// "Device configuration errors" and the options' documentation (README,
// scenario.hpp): one rule per line, 128-bit sums, no code shared with
// validate() or Machine::assign_address(). The runner compares both with
// the core whenever a device is added or migrated.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "device_config.hpp"

namespace vmemcheck {

// The first rule `config` breaks (its own options only), or nullopt.
std::optional<std::string_view> reference_config_error(const DeviceConfig& config, uint32_t numa_nodes);

// The rule a machine with a device-memory area of [area_base, area_base +
// area_size) breaks for a guest of `phys_bits` physical-address bits, as
// QEMU 10's q35 sees it (DESIGN §7), or nullopt.
std::optional<std::string_view> reference_machine_error(uint64_t area_base, uint64_t area_size, uint32_t phys_bits);

// For a device placed by hand (config.addr set): the rule its range breaks
// in a device-memory area of [area_base, area_base + area_size) where the
// devices in `taken` ([start, end) each) already sit, or nullopt.
std::optional<std::string_view> reference_placement_error(const DeviceConfig& config, uint64_t area_base,
                                                          uint64_t area_size,
                                                          const std::vector<std::pair<uint64_t, uint64_t>>& taken);

// For a device the machine places (config.addr unset): the lowest address,
// a multiple of block-size and of 2 MiB, where the device fits in the area without
// overlapping a device in `taken` (first fit), or nullopt when no range is left.
std::optional<uint64_t> reference_first_fit(const DeviceConfig& config, uint64_t area_base, uint64_t area_size,
                                            const std::vector<std::pair<uint64_t, uint64_t>>& taken);

}  // namespace vmemcheck
