// The KVM memslot API as both the shadow model and real KVM offer it: the raw
// KVM_SET_USER_MEMORY_REGION call with its errno, in the style of the KVM
// selftests' __set_region() (return the result, let the caller assert).
#pragma once

#include <cstdint>
#include <string>

namespace vmemcheck {

// Mirrors struct kvm_userspace_memory_region.
struct KvmRegion {
  uint32_t slot = 0;  // bits 16..31: address space id (1 = SMM on x86)
  uint32_t flags = 0;
  uint64_t guest_phys_addr = 0;
  uint64_t memory_size = 0;  // 0 deletes the slot
  uint64_t userspace_addr = 0;
  friend bool operator==(const KvmRegion&, const KvmRegion&) = default;
};

inline constexpr uint32_t kKvmMemLogDirtyPages = 1u << 0;
inline constexpr uint32_t kKvmMemReadonly = 1u << 1;
inline constexpr uint32_t kSmmAddressSpace = 1;
// KVM_MEM_MAX_NR_PAGES: one memslot covers at most 2^31 - 1 pages of 4 KiB.
inline constexpr uint64_t kKvmMaxSlotBytes = ((uint64_t{1} << 31) - 1) * 4096;

inline uint32_t kvm_slot_id(uint32_t address_space, uint32_t id) { return (address_space << 16) | id; }

class KvmVm {
 public:
  virtual ~KvmVm() = default;
  // Returns 0 or a negative errno, exactly as the ioctl would.
  virtual int set_user_memory_region(const KvmRegion& region) = 0;
  // KVM_CAP_NR_MEMSLOTS: user memslot ids per address space.
  virtual uint32_t max_memslots() const = 0;
  // 2 on x86 (normal and SMM), 1 elsewhere.
  virtual uint32_t address_spaces() const = 0;
};

std::string describe(const KvmRegion& region);
std::string errno_name(int negative_errno);

}  // namespace vmemcheck
