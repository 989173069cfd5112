// Host memory for real KVM: one private anonymous MAP_NORESERVE mapping per
// device (a 1 TiB device costs nothing until touched), discarded with
// MADV_DONTNEED. Plugged memory is populated on first touch, like QEMU's
// default prealloc=off; with `preallocate` a plug populates it up front
// (MADV_POPULATE_WRITE).
#pragma once

#include <map>

#include "host_memory.hpp"

namespace vmemcheck::kvm {

class MmapHostMemory final : public HostMemory {
 public:
  explicit MmapHostMemory(bool preallocate = false) : preallocate_(preallocate) {}
  ~MmapHostMemory() override;
  MmapHostMemory(const MmapHostMemory&) = delete;
  MmapHostMemory& operator=(const MmapHostMemory&) = delete;

  Result<uint64_t> allocate(uint64_t size) override;
  void release(uint64_t hva, uint64_t size) override;
  Status discard(uint64_t hva, uint64_t size) override;
  Status populate(uint64_t hva, uint64_t size) override;
  void read(uint64_t hva, std::span<uint8_t> bytes) const override;
  void write(uint64_t hva, std::span<const uint8_t> bytes) override;

 private:
  bool preallocate_;
  std::map<uint64_t, uint64_t> mappings_;  // hva -> size, released on destruction
};

}  // namespace vmemcheck::kvm
