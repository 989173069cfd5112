// The memslot limit the machine hands a device that decides its layout
// automatically (DESIGN §6 "Memory-device core"), written again from the
// text: signed 128-bit arithmetic, one rule per line, no code shared with
// decision::auto_memslot_limit. The runner compares the two whenever an
// automatic device is added; the per-device reference model cannot, as the
// limit depends on every other device and backend of the machine.
#pragma once

#include <cstdint>

#include "machine.hpp"

namespace vmemcheck {

// `budget` and `used_region` (bytes the other devices occupy) as they were
// before the device was added; `space` is the memory-device area's size.
uint64_t reference_memslot_limit(const MemslotBudget& budget, uint64_t space, uint64_t used_region,
                                 uint64_t device_size);

}  // namespace vmemcheck
