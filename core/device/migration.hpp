// The device state a migration carries (DESIGN §6 "Migration").
#pragma once

#include <cstdint>
#include <optional>
#include <string>

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
  // The virtio device status travels with the VM (QEMU's vmstate_virtio), so
  // a device that needs a reset still needs one on the destination. QEMU
  // migrates the NEEDS_RESET bit; the reason is ours, kept for messages.
  std::optional<std::string> error_reason;
  friend bool operator==(const MigrationState&, const MigrationState&) = default;
};

}  // namespace vmemcheck
