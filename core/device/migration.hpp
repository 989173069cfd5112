// The device state a migration carries (DESIGN §6 "Migration").
#pragma once

#include <cstdint>

#include "block_bitmap.hpp"

namespace vmemcheck {

struct MigrationState {
  uint64_t addr = 0;
  uint64_t region_size = 0;
  uint64_t block_size = 0;
  uint16_t node = 0;
  uint64_t usable_region_size = 0;
  uint64_t plugged_size = 0;
  uint64_t requested_size = 0;
  BlockBitmap bitmap;
  friend bool operator==(const MigrationState&, const MigrationState&) = default;
};

}  // namespace vmemcheck
