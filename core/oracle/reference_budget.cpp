#include "reference_budget.hpp"

#include <algorithm>

#include "kvm_vm.hpp"
#include "reference_model.hpp"

namespace vmemcheck {
namespace {
__extension__ using i128 = __int128;  // no wrap in any difference or product below
}  // namespace

uint64_t reference_memslot_limit(const MemslotBudget& budget, uint64_t space, uint64_t used_region,
                                 uint64_t device_size) {
  const i128 max = budget.max, free = budget.free, required = budget.required, used = budget.used;
  const i128 reserved = required - used;
  if (max < 509) return 1;
  if (required >= 256) return 1;
  if (free < reserved) return 1;
  const i128 n = std::min<i128>(256 - required, free - reserved);
  if (n < 1) return 1;
  const i128 free_space = i128{space} - used_region;
  if (device_size >= free_space) return static_cast<uint64_t>(n);
  return static_cast<uint64_t>(std::max<i128>(n * device_size / free_space, 1));
}

bool reference_decides_automatically(MemslotMode mode) {
  return mode == MemslotMode::Multiple || mode == MemslotMode::Dynamic;
}

uint64_t reference_device_limit(const DeviceConfig& config, const MemslotBudget& budget, uint64_t space,
                                uint64_t used_region) {
  return reference_decides_automatically(config.mode)
             ? reference_memslot_limit(budget, space, used_region, config.region_size)
             : 1;
}

std::optional<std::string_view> reference_budget_error(const DeviceConfig& config, const MemslotBudget& budget,
                                                       uint64_t space, uint64_t used_region) {
  const ReferenceLayout layout = reference_layout(config, reference_device_limit(config, budget, space, used_region));
  if (layout.slot_size > kKvmMaxSlotBytes) return "its memslots exceed KVM's largest memslot";
  if (i128{budget.free} < i128{layout.slot_count} + budget.required - budget.used) return "not enough free memslots";
  return std::nullopt;
}

}  // namespace vmemcheck
