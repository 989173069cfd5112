// Measures the kernel memory real KVM takes for a device's memslots: the
// growth of vmalloc and unreclaimable slab memory around creating the device
// and plugging memory, repeated in fresh VMs (median), beside what the shadow
// model predicts for the same memslot calls (which go to both, in lockstep).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "device_config.hpp"
#include "result.hpp"

namespace vmemcheck::kvm {

struct MetadataCase {
  std::string label;
  MemslotMode mode = MemslotMode::Static;
  uint64_t memslot_limit = 1;  // what the machine would hand an automatic policy
  uint64_t region_size = 0;
  uint64_t block_size = 0;
  uint64_t plugged = 0;
  bool smm = false;
};

struct MetadataMeasurement {
  uint64_t kvm_slots = 0;          // KVM memslots mapped (both address spaces)
  uint64_t median_bytes = 0;       // measured, median over the repeats
  uint64_t min_bytes = 0;
  uint64_t max_bytes = 0;
  uint64_t predicted_bytes = 0;    // the shadow model
};

Result<MetadataMeasurement> measure_kvm_metadata(const MetadataCase& c, uint64_t gpa, int repeats);

}  // namespace vmemcheck::kvm
