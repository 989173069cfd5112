// Host-side workloads for policy comparisons: what the host asks of a device
// over time (requested-size changes, reboots, migrations), and which memory
// blocks the guest cannot give back. The guest's side is GuestDriver.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmemcheck {

enum class WorkloadKind { GrowShrink, Sawtooth, RandomWalk, FragmentedUnplug, RebootMidway, MigrateMidway };

std::string_view name(WorkloadKind kind);
std::optional<WorkloadKind> parse_workload(std::string_view text);
std::vector<WorkloadKind> all_workloads();

struct HostEvent {
  enum class Kind { Resize, Reboot, MigrationStart, MigrationEnd };
  uint64_t tick = 0;
  Kind kind = Kind::Resize;
  uint64_t size = 0;  // Resize: the new requested size
};

struct Workload {
  std::vector<HostEvent> events;  // ordered by tick
  uint64_t ticks = 0;             // how long to run
  // Memory blocks (gpa / 128 MiB) the guest cannot offline, if any.
  std::function<bool(uint64_t)> unremovable;
};

struct WorkloadGeometry {
  uint64_t region_size = 0;
  uint64_t block_size = 0;
  uint64_t peak = 0;  // the largest requested size; 0: a quarter of the region
  uint64_t seed = 1;  // random walk
};

// Requested sizes are multiples of the block size and at most the region.
Workload make_workload(WorkloadKind kind, const WorkloadGeometry& geometry);

}  // namespace vmemcheck
