#include "host_memory.hpp"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "units.hpp"

namespace vmemcheck {

Result<uint64_t> SparseHostMemory::allocate(uint64_t size) {
  constexpr uint64_t kUserSpaceEnd = uint64_t{1} << 47;
  if (size > kUserSpaceEnd - next_hva_) {
    return Error{fmt::format("host address space exhausted allocating {:#x} bytes", size), ErrorCode::HostMemory};
  }
  const uint64_t hva = next_hva_;
  // Keep allocations 1 GiB aligned, as a THP/hugetlb-friendly mmap would be.
  next_hva_ += (size + GiB - 1) / GiB * GiB;
  return hva;
}

void SparseHostMemory::release(uint64_t hva, uint64_t size) { (void)discard(hva, size); }

Status SparseHostMemory::discard(uint64_t hva, uint64_t size) {
  pages_.erase(pages_.lower_bound(hva), pages_.lower_bound(hva + size));
  return ok_status();
}

Status SparseHostMemory::populate(uint64_t, uint64_t) { return ok_status(); }

void SparseHostMemory::read(uint64_t hva, std::span<uint8_t> bytes) const {
  size_t done = 0;
  while (done < bytes.size()) {
    const uint64_t address = hva + done;
    const uint64_t page = address / kPage * kPage;
    const size_t chunk = std::min<size_t>(bytes.size() - done, kPage - (address - page));
    const auto it = pages_.find(page);
    if (it == pages_.end()) {
      std::memset(bytes.data() + done, 0, chunk);
    } else {
      std::memcpy(bytes.data() + done, it->second.data() + (address - page), chunk);
    }
    done += chunk;
  }
}

void SparseHostMemory::write(uint64_t hva, std::span<const uint8_t> bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const uint64_t address = hva + done;
    const uint64_t page = address / kPage * kPage;
    const size_t chunk = std::min<size_t>(bytes.size() - done, kPage - (address - page));
    auto [it, inserted] = pages_.try_emplace(page);
    if (inserted) it->second.fill(0);
    std::memcpy(it->second.data() + (address - page), bytes.data() + done, chunk);
    done += chunk;
  }
}

}  // namespace vmemcheck
