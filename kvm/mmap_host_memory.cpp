#include "mmap_host_memory.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

// Linux 5.14; older headers lack it.
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

namespace vmemcheck::kvm {

MmapHostMemory::~MmapHostMemory() {
  for (const auto& [hva, size] : mappings_) munmap(reinterpret_cast<void*>(hva), size);
}

Result<uint64_t> MmapHostMemory::allocate(uint64_t size) {
  void* address = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (address == MAP_FAILED) {
    return Error{fmt::format("mmap of {:#x} bytes: {}", size, std::strerror(errno)), ErrorCode::HostMemory};
  }
  const auto hva = reinterpret_cast<uint64_t>(address);
  mappings_[hva] = size;
  return hva;
}

void MmapHostMemory::release(uint64_t hva, uint64_t size) {
  if (mappings_.erase(hva) != 0) munmap(reinterpret_cast<void*>(hva), size);
}

Status MmapHostMemory::discard(uint64_t hva, uint64_t size) {
  if (madvise(reinterpret_cast<void*>(hva), size, MADV_DONTNEED) != 0) {
    return Error{fmt::format("madvise(MADV_DONTNEED) [{:#x}, +{:#x}): {}", hva, size, std::strerror(errno))};
  }
  return ok_status();
}

Status MmapHostMemory::populate(uint64_t hva, uint64_t size) {
  if (!preallocate_) return ok_status();
  if (madvise(reinterpret_cast<void*>(hva), size, MADV_POPULATE_WRITE) != 0) {
    return Error{fmt::format("madvise(MADV_POPULATE_WRITE) [{:#x}, +{:#x}): {}", hva, size, std::strerror(errno))};
  }
  return ok_status();
}

void MmapHostMemory::read(uint64_t hva, std::span<uint8_t> bytes) const {
  std::memcpy(bytes.data(), reinterpret_cast<const void*>(hva), bytes.size());
}

void MmapHostMemory::write(uint64_t hva, std::span<const uint8_t> bytes) {
  std::memcpy(reinterpret_cast<void*>(hva), bytes.data(), bytes.size());
}

}  // namespace vmemcheck::kvm
