#include "reference_budget.hpp"

#include <algorithm>

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

}  // namespace vmemcheck
