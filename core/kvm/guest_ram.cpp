#include "guest_ram.hpp"

namespace vmemcheck {

GuestRam::GuestRam(uint64_t base, uint64_t size) : base_(base), size_(size) {
  // Boot RAM is at most the 52-bit guest-physical space: the sparse host
  // memory's 128 TiB of fake addresses always hold it.
  auto hva = host_.allocate(size);
  if (hva) hva_ = *hva;
  else size_ = 0;
}

bool GuestRam::accessible(uint64_t gpa, uint64_t size) const {
  if (size == 0) return true;
  return gpa >= base_ && gpa - base_ < size_ && size <= size_ - (gpa - base_);
}

bool GuestRam::read(uint64_t gpa, std::span<uint8_t> bytes) {
  if (!accessible(gpa, bytes.size())) return false;
  host_.read(hva_ + (gpa - base_), bytes);
  return true;
}

bool GuestRam::write(uint64_t gpa, std::span<const uint8_t> bytes) {
  if (!accessible(gpa, bytes.size())) return false;
  host_.write(hva_ + (gpa - base_), bytes);
  return true;
}

bool GuestAddressSpace::read(uint64_t gpa, std::span<uint8_t> bytes) {
  return ram_.accessible(gpa, bytes.size()) ? ram_.read(gpa, bytes) : devices_.read(gpa, bytes);
}

bool GuestAddressSpace::write(uint64_t gpa, std::span<const uint8_t> bytes) {
  return ram_.accessible(gpa, bytes.size()) ? ram_.write(gpa, bytes) : devices_.write(gpa, bytes);
}

bool GuestAddressSpace::accessible(uint64_t gpa, uint64_t size) const {
  return ram_.accessible(gpa, size) || devices_.accessible(gpa, size);
}

}  // namespace vmemcheck
