// The VMM's backing memory for devices: one mapping per device, addressed by
// host virtual address (what KVM's userspace_addr points at). The real KVM
// backend uses mmap; the shadow uses SparseHostMemory, which keeps only the
// pages that were written.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>

#include "result.hpp"

namespace vmemcheck {

class HostMemory {
 public:
  virtual ~HostMemory() = default;
  // Reserves `size` bytes (no memory populated); returns the host address.
  virtual Result<uint64_t> allocate(uint64_t size) = 0;
  virtual void release(uint64_t hva, uint64_t size) = 0;
  // Afterwards the range reads as zero and holds no memory.
  virtual Status discard(uint64_t hva, uint64_t size) = 0;
  // Preallocates the range.
  virtual Status populate(uint64_t hva, uint64_t size) = 0;
  // Accesses inside an allocation.
  virtual void read(uint64_t hva, std::span<uint8_t> bytes) const = 0;
  virtual void write(uint64_t hva, std::span<const uint8_t> bytes) = 0;
};

class SparseHostMemory final : public HostMemory {
 public:
  Result<uint64_t> allocate(uint64_t size) override;
  void release(uint64_t hva, uint64_t size) override;
  Status discard(uint64_t hva, uint64_t size) override;
  Status populate(uint64_t hva, uint64_t size) override;
  void read(uint64_t hva, std::span<uint8_t> bytes) const override;
  void write(uint64_t hva, std::span<const uint8_t> bytes) override;
  uint64_t resident_pages() const { return pages_.size(); }

 private:
  static constexpr uint64_t kPage = 4096;
  using Page = std::array<uint8_t, kPage>;
  // Fake host addresses start at 1 TiB and stay below x86-64's 47-bit user space.
  uint64_t next_hva_ = uint64_t{1} << 40;
  std::map<uint64_t, Page> pages_;  // key: page-aligned hva; absent pages read as zero
};

}  // namespace vmemcheck
