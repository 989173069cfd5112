// How a device's region is cut into memslots (its layout) and which memslots
// are mapped (its map rule). The seeds' three generations and Firecracker's
// fixed slots are four small implementations of one interface, so another
// policy fits beside them and `vmemcheck compare` can put them side by side.
#pragma once

#include <cstdint>
#include <memory>

#include "device_config.hpp"
#include "units.hpp"

namespace vmemcheck {

enum class MapRule {
  WholeRegion,    // every memslot is always mapped
  UsableRegion,   // a memslot is mapped while it intersects the usable region
  PluggedBlocks,  // a memslot is mapped while it holds a plugged block
};

// The memslots a byte range of the region touches: first <= i < end.
struct SlotRange {
  uint64_t first = 0;
  uint64_t end = 0;
};

// The arithmetic behind these is decision.hpp's, which only the device sees.
struct MemslotLayout {
  uint64_t region_size = 0;
  uint64_t slot_size = 0;
  uint64_t count = 0;

  uint64_t offset(uint64_t index) const;
  // The last memslot may be shorter than slot_size.
  uint64_t length(uint64_t index) const;
  friend bool operator==(const MemslotLayout&, const MemslotLayout&) = default;
};

class MemslotPolicy {
 public:
  virtual ~MemslotPolicy() = default;
  // True when the layout takes its memslot limit from the machine (and so
  // counts against the soft limit and restricts vhost devices).
  virtual bool decides_automatically() const = 0;
  // `limit` is the machine's limit for automatic policies, ignored by others.
  virtual MemslotLayout layout(uint64_t region_size, uint64_t block_size, uint64_t limit) const = 0;
  virtual MapRule map_rule() const = 0;
};

// The minimum memslot size of the automatic layout (QEMU's VIRTIO_MEM_MIN_MEMSLOT_SIZE).
inline constexpr uint64_t kMinAutoMemslotSize = GiB;
// v1 aligns memslots to at least 128 MiB (seed 002).
inline constexpr uint64_t kMinCountMemslotAlign = 128 * MiB;

std::unique_ptr<MemslotPolicy> make_memslot_policy(const DeviceConfig& config);

}  // namespace vmemcheck
