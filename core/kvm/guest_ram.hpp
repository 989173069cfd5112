// Guest RAM outside the memory devices (boot memory, where a driver keeps its
// virtqueues), and the guest-physical address space a device's DMA sees:
// boot RAM plus whatever the memory devices have mapped.
#pragma once

#include <cstdint>
#include <span>

#include "backend.hpp"
#include "host_memory.hpp"

namespace vmemcheck {

// [base, base + size) of zero-initialised RAM; only written pages take memory.
class GuestRam final : public GuestMemory {
 public:
  GuestRam(uint64_t base, uint64_t size);
  bool read(uint64_t gpa, std::span<uint8_t> bytes) override;
  bool write(uint64_t gpa, std::span<const uint8_t> bytes) override;
  bool accessible(uint64_t gpa, uint64_t size) const override;
  uint64_t base() const { return base_; }
  uint64_t size() const { return size_; }

 private:
  uint64_t base_;
  uint64_t size_;
  SparseHostMemory host_;
  uint64_t hva_ = 0;
};

// Boot RAM first, then the devices' mapped memslots. An access is served by
// one of them as a whole, never split between the two.
class GuestAddressSpace final : public GuestMemory {
 public:
  GuestAddressSpace(GuestRam& ram, GuestMemory& devices) : ram_(ram), devices_(devices) {}
  bool read(uint64_t gpa, std::span<uint8_t> bytes) override;
  bool write(uint64_t gpa, std::span<const uint8_t> bytes) override;
  bool accessible(uint64_t gpa, uint64_t size) const override;

 private:
  GuestRam& ram_;
  GuestMemory& devices_;
};

}  // namespace vmemcheck
