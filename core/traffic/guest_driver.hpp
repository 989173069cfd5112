// A model of the Linux virtio-mem driver (drivers/virtio/virtio_mem.c), to
// drive devices with realistic request streams instead of uniform noise:
// - memory is added in Linux memory blocks (128 MiB on x86-64) that lie fully
//   inside the usable region, lowest address first;
// - sub-block mode (device block < memory block) plugs sub-blocks of at
//   least 2 MiB (a pageblock), one request per contiguous run, filling
//   partially plugged memory blocks first; big-block mode plugs whole device
//   blocks;
// - unplug prefers the highest addresses, whole memory blocks first, and
//   skips memory blocks the guest cannot offline (unmovable allocations);
// - BUSY is retried later with exponential backoff; NACK ends the plug;
// - at boot, plugged memory (after a reboot or kexec) is unplugged with
//   UNPLUG_ALL before anything else.
// A well-behaved driver never gets ERROR; the model counts it if it does.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "units.hpp"
#include "wire.hpp"

namespace vmemcheck {

// How the driver reaches its device.
class DriverPort {
 public:
  virtual ~DriverPort() = default;
  virtual ConfigSpace config() = 0;
  // Nothing when the device stopped answering (it needs a reset).
  virtual std::optional<Response> send(const Request& request) = 0;
};

struct DriverOptions {
  uint64_t memory_block_size = 128 * MiB;  // Linux x86-64
  uint64_t pageblock_size = 2 * MiB;        // the smallest unit Linux plugs
  uint64_t requests_per_tick = 8;           // work the driver's workqueue does per tick
  uint64_t max_backoff_ticks = 64;
  // Memory blocks (by index, gpa / memory_block_size) the guest cannot offline.
  std::function<bool(uint64_t)> unremovable;
};

struct DriverStats {
  uint64_t requests = 0;
  uint64_t acks = 0;
  uint64_t nacks = 0;
  uint64_t busy = 0;
  uint64_t errors = 0;
};

class GuestDriver {
 public:
  explicit GuestDriver(DriverOptions options = {}) : options_(std::move(options)) {}

  // Probe after (re)boot: forget everything and unplug what is still plugged.
  void boot();
  // One tick of the driver's work towards the requested size.
  void tick(DriverPort& port);

  uint64_t plugged() const { return plugged_; }
  const DriverStats& stats() const { return stats_; }

 private:
  // Sub-block mode: a group is a memory block and a unit a sub-block.
  // Big-block mode (device block >= memory block): a group is one device block,
  // its only unit.
  struct Geometry {
    uint64_t block_size = 0;
    uint64_t group_size = 0;
    uint64_t unit = 0;
    uint64_t units_per_group = 0;
    uint64_t first_group = 0;  // the first group wholly inside the device
    uint64_t end_group = 0;    // groups below it lie wholly inside the usable region
  };
  Geometry geometry(const ConfigSpace& config) const;
  // Sends one request; false when the tick's work must stop.
  bool send(DriverPort& port, RequestType type, uint64_t addr, uint64_t units, const Geometry& g);
  void plug(DriverPort& port, const Geometry& g, uint64_t units);
  void unplug(DriverPort& port, const Geometry& g, uint64_t units);

  DriverOptions options_;
  bool unplug_all_pending_ = false;
  // Added groups: index (gpa / group size) -> which of their units are plugged.
  std::map<uint64_t, std::vector<bool>> blocks_;
  uint64_t plugged_ = 0;
  uint64_t budget_ = 0;       // requests left in this tick
  uint64_t backoff_ = 0;      // ticks to wait after BUSY
  uint64_t next_backoff_ = 1;
  DriverStats stats_;
};

}  // namespace vmemcheck
