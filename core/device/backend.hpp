// The narrow interface between the pure device core and the hypervisor.
// The device decides what must change; a backend does it (the shadow KVM
// model, real KVM, or a fault-injecting wrapper around either).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"

namespace vmemcheck {

// Identifies a memory device towards the backend (the machine's device index).
using DeviceHandle = uint32_t;

// One memslot of one device: `size` bytes of the device's backing memory at
// `backing_offset`, seen by the guest at `gpa`.
struct SlotMapping {
  DeviceHandle device = 0;
  uint64_t index = 0;
  uint64_t gpa = 0;
  uint64_t size = 0;
  uint64_t backing_offset = 0;
  friend bool operator==(const SlotMapping&, const SlotMapping&) = default;
};

// A batch of memslot changes applied as one transaction: all or nothing.
struct SlotTransaction {
  std::vector<SlotMapping> unmap;
  std::vector<SlotMapping> map;
  bool empty() const { return unmap.empty() && map.empty(); }
};

class MemslotBackend {
 public:
  virtual ~MemslotBackend() = default;
  // Creates / releases the backing memory of a device (nothing mapped yet).
  virtual Status attach(DeviceHandle device, uint64_t region_size) = 0;
  virtual void detach(DeviceHandle device) = 0;
  // Applies unmaps, then maps. On failure nothing has changed (the backend
  // undoes what it applied). Unmapping a mapped slot does not fail.
  virtual Status apply(const SlotTransaction& transaction) = 0;
  // Discard: the range's backing memory reads as zero afterwards.
  virtual Status discard(DeviceHandle device, uint64_t offset, uint64_t size) = 0;
  // Populate: preallocate / notify listeners about newly plugged memory.
  virtual Status populate(DeviceHandle device, uint64_t offset, uint64_t size) = 0;
};

// Guest-physical memory as a vCPU sees it: an access to a GPA outside every
// mapped memslot fails (on KVM it exits to the VMM).
class GuestMemory {
 public:
  virtual ~GuestMemory() = default;
  virtual bool read(uint64_t gpa, std::span<uint8_t> bytes) = 0;
  virtual bool write(uint64_t gpa, std::span<const uint8_t> bytes) = 0;
  // Whether [gpa, gpa + size) can be accessed as one piece (what a device
  // checks before it maps a descriptor's buffer). Size 0 is accessible.
  virtual bool accessible(uint64_t gpa, uint64_t size) const = 0;
};

}  // namespace vmemcheck
