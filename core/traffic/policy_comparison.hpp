// Runs one workload (workload.hpp) with the guest driver model on one device
// under one memslot policy, over the shadow KVM model, and measures what the
// policy costs: mapped memslots, KVM metadata, KVM_SET_USER_MEMORY_REGION
// calls, and exposure (bytes mapped into the guest but not plugged). The run
// is also written down as a scenario, which `vmemcheck run` replays.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "device_config.hpp"
#include "guest_driver.hpp"
#include "result.hpp"
#include "scenario.hpp"
#include "workload.hpp"

namespace vmemcheck {

struct PolicyUnderTest {
  std::string label;  // e.g. "dynamic", "fixed-128M"
  MemslotMode mode = MemslotMode::Static;
  uint32_t memslots = 1;                          // count mode
  uint64_t slot_size = kDefaultFixedSlotSize;     // fixed mode
  bool unplugged_inaccessible = true;             // multiple mode
};

// The policies of the seeds and Firecracker's: static, v1 usable-region
// (1 GiB slots), v2 multiple-memslots by usable region, v4 dynamic, fixed 128 MiB.
std::vector<PolicyUnderTest> default_policies(uint64_t region_size);
Result<PolicyUnderTest> parse_policy(std::string_view text, uint64_t region_size);

struct ComparisonGeometry {
  uint64_t region_size = TiB;
  uint64_t block_size = 2 * MiB;
  uint64_t gpa = 4 * GiB;  // as `vmemcheck metadata`
  bool tdp_mmu = true;
  bool smm = false;
};

struct TickSample {
  uint64_t tick = 0;
  uint64_t requested = 0;
  uint64_t plugged = 0;
  uint64_t mapped_slots = 0;
  uint64_t metadata = 0;  // bytes
  uint64_t exposure = 0;  // mapped but unplugged bytes
};

struct PolicyResult {
  PolicyUnderTest policy;
  uint64_t device_memslots = 0;
  uint64_t slot_size = 0;
  uint64_t peak_slots = 0;
  double mean_slots = 0;
  uint64_t peak_metadata = 0;
  double mean_metadata = 0;
  uint64_t peak_exposure = 0;
  double mean_exposure = 0;
  uint64_t kvm_calls = 0;
  DriverStats driver;
  std::vector<TickSample> series;
  scenario::Scenario scenario;  // the run, replayable
};

Result<PolicyResult> run_policy(const PolicyUnderTest& policy, WorkloadKind workload,
                                const WorkloadGeometry& workload_geometry, const ComparisonGeometry& geometry);

}  // namespace vmemcheck
