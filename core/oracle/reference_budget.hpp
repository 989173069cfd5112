// The memslot limit the machine hands a device that decides its layout
// automatically (DESIGN §6 "Memory-device core"), written again from the
// text: signed 128-bit arithmetic, one rule per line, no code shared with
// decision::auto_memslot_limit. The runner compares the two whenever an
// automatic device is added; the per-device reference model cannot, as the
// limit depends on every other device and backend of the machine.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "machine.hpp"

namespace vmemcheck {

// `budget` and `used_region` (bytes the other devices occupy) as they were
// before the device was added; `space` is the memory-device area's size.
uint64_t reference_memslot_limit(const MemslotBudget& budget, uint64_t space, uint64_t used_region,
                                 uint64_t device_size);

// The modes whose device decides its memslot count from the machine's limit
// (DESIGN §6): multiple and dynamic.
bool reference_decides_automatically(MemslotMode mode);

// The limit a new device of `config` gets: reference_memslot_limit for the
// modes that decide automatically (multiple, dynamic), else 1.
uint64_t reference_device_limit(const DeviceConfig& config, const MemslotBudget& budget, uint64_t space,
                                uint64_t used_region);

// The budget rule a new device of `config` breaks, or nullopt (DESIGN §6):
// memslots larger than KVM's largest, or more memslots than are free after
// those promised to the other memory devices. Arguments as above.
std::optional<std::string_view> reference_budget_error(const DeviceConfig& config, const MemslotBudget& budget,
                                                       uint64_t space, uint64_t used_region);

}  // namespace vmemcheck
