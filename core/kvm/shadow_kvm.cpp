#include "shadow_kvm.hpp"

#include <cerrno>
#include <cstring>
#include <iterator>

#include <fmt/format.h>

namespace vmemcheck {
namespace {

// x86 KVM_MEM_MAX_NR_PAGES: npages must fit the 31-bit field of the memslot.
// Highest user-space address access_ok() accepts on x86-64 (TASK_SIZE_MAX):
// 2^47 - 4096. A literal: a constant's arithmetic is evaluated at compile
// time, where scripts/mutate's mutants never run.
constexpr uint64_t kTaskSizeMax = 0x7fff'ffff'f000;

// Pages of one level a slot spans, as KVM's __kvm_mmu_slot_lpages().
uint64_t level_pages(uint64_t first_gfn, uint64_t npages, unsigned level_shift) {
  const uint64_t last = first_gfn + npages - 1;
  return (last >> level_shift) - (first_gfn >> level_shift) + 1;
}

}  // namespace

SlotMetadata& SlotMetadata::operator+=(const SlotMetadata& other) {
  rmap += other.rmap;
  gfn_track += other.gfn_track;
  lpage_info += other.lpage_info;
  dirty_bitmaps += other.dirty_bitmaps;
  return *this;
}

SlotMetadata slot_metadata(uint64_t gpa, uint64_t size, const MetadataModel& model) {
  SlotMetadata m;
  if (size == 0) return m;
  const uint64_t gfn = gpa >> 12;
  const uint64_t npages = size >> 12;
  const uint64_t pages_4k = npages;
  const uint64_t pages_2m = level_pages(gfn, npages, 9);
  const uint64_t pages_1g = level_pages(gfn, npages, 18);
  if (!model.tdp_mmu) m.rmap = 8 * (pages_4k + pages_2m + pages_1g);
  m.gfn_track = 2 * pages_4k;
  m.lpage_info = 4 * (pages_2m + pages_1g);
  // Two bitmaps of one bit per page, each rounded up to whole longs.
  if (model.dirty_logging) m.dirty_bitmaps = 2 * ((npages + 63) / 64) * 8;
  return m;
}

ShadowKvm::ShadowKvm(KvmLimits limits, MetadataModel model)
    : limits_(limits), model_(model), slots_(limits.address_spaces) {}

const KvmRegion* ShadowKvm::find(uint32_t as_id, uint32_t id) const {
  const std::vector<KvmRegion>& table = slots_[as_id];
  return id < table.size() && table[id].memory_size != 0 ? &table[id] : nullptr;
}

int ShadowKvm::set_user_memory_region(const KvmRegion& region) {
  ++calls_;
  return validate_and_apply(region);
}

// The checks of kvm_vm_ioctl_set_memory_region() and __kvm_set_memory_region()
// in Linux 6.1, in their order, plus x86's max-gfn check.
int ShadowKvm::validate_and_apply(const KvmRegion& r) {
  const uint32_t as_id = r.slot >> 16;
  const uint32_t id = r.slot & 0xffff;
  const uint64_t page_mask = limits_.page_size - 1;
  if (id >= limits_.max_memslots) return -EINVAL;
  if (r.flags & ~(kKvmMemLogDirtyPages | kKvmMemReadonly)) return -EINVAL;
  if (r.memory_size & page_mask) return -EINVAL;
  if (r.guest_phys_addr & page_mask) return -EINVAL;
  if ((r.userspace_addr & page_mask) || r.userspace_addr > kTaskSizeMax ||
      r.memory_size > kTaskSizeMax - r.userspace_addr) {
    return -EINVAL;
  }
  if (as_id >= limits_.address_spaces) return -EINVAL;
  const uint64_t end = r.guest_phys_addr + r.memory_size;
  if (end < r.guest_phys_addr) return -EINVAL;
  if (r.memory_size > kKvmMaxSlotBytes) return -EINVAL;

  const KvmRegion* old = find(as_id, id);
  if (r.memory_size == 0) {
    if (!old) return -EINVAL;
    by_gpa_.erase({as_id, old->guest_phys_addr});
    if (journaling_) journal_.push_back({*old, -1});
    slots_[as_id][id] = {};
    --slot_count_;
    return 0;
  }
  bool moves_or_creates = true;
  if (old) {
    if (r.userspace_addr != old->userspace_addr || r.memory_size != old->memory_size ||
        ((r.flags ^ old->flags) & kKvmMemReadonly)) {
      return -EINVAL;
    }
    if (r.guest_phys_addr == old->guest_phys_addr) {
      if (r.flags == old->flags) return 0;
      moves_or_creates = false;  // a flags-only change
    }
  }
  if (moves_or_creates) {
    if (overlaps_another_slot(r)) return -EEXIST;
    // x86 checks the max gfn later, in kvm_arch_prepare_memory_region(): the
    // last gfn must be addressable with the guest's physical address bits.
    const uint64_t last_gfn = (end - 1) >> 12;
    if (last_gfn >= (uint64_t{1} << (limits_.phys_bits - 12))) return -EINVAL;
  }
  if (old) {
    by_gpa_.erase({as_id, old->guest_phys_addr});
    if (journaling_) journal_.push_back({*old, -1});
  } else {
    ++slot_count_;
  }
  by_gpa_[{as_id, r.guest_phys_addr}] = r.slot;
  std::vector<KvmRegion>& table = slots_[as_id];
  if (id >= table.size()) table.resize(id + 1);
  table[id] = r;
  if (journaling_) journal_.push_back({r, +1});
  return 0;
}

// The slots of one address space never overlap, so ordered by GPA only the
// neighbours of r's start can overlap it (KVM looks them up in its gfn tree).
bool ShadowKvm::overlaps_another_slot(const KvmRegion& r) const {
  const uint32_t as_id = r.slot >> 16;
  const auto overlaps = [&](auto it) {
    // A neighbour in another address space (or r itself) cannot overlap r.
    if (it->first.first != as_id || it->second == r.slot) return false;
    const KvmRegion& other = *find(as_id, it->second & 0xffff);
    return r.guest_phys_addr < other.guest_phys_addr + other.memory_size &&
           other.guest_phys_addr < r.guest_phys_addr + r.memory_size;
  };
  // When a neighbour is r's own old place (a slot may move onto part of
  // itself), the slot beyond it cannot overlap r either: a move keeps the
  // size, so r ends at or below the old end when it starts at or below the
  // old start, and a slot before the old place ends at or below the old start.
  const auto next = by_gpa_.lower_bound({as_id, r.guest_phys_addr});
  if (next != by_gpa_.end() && overlaps(next)) return true;
  return next != by_gpa_.begin() && overlaps(std::prev(next));
}

std::vector<KvmRegion> ShadowKvm::slots() const {
  std::vector<KvmRegion> out;
  out.reserve(slot_count_);
  for (const auto& table : slots_) {
    for (const KvmRegion& region : table) {
      if (region.memory_size != 0) out.push_back(region);
    }
  }
  return out;
}

uint64_t ShadowKvm::slot_count() const { return slot_count_; }

SlotMetadata ShadowKvm::metadata() const {
  SlotMetadata total;
  for (const KvmRegion& r : slots()) {
    MetadataModel model = model_;
    model.dirty_logging = model.dirty_logging || (r.flags & kKvmMemLogDirtyPages);
    total += slot_metadata(r.guest_phys_addr, r.memory_size, model);
  }
  return total;
}

std::string describe(const KvmRegion& r) {
  return fmt::format("KVM_SET_USER_MEMORY_REGION(slot={}:{}, flags={:#x}, gpa={:#x}, size={:#x}, hva={:#x})",
                     r.slot >> 16, r.slot & 0xffff, r.flags, r.guest_phys_addr, r.memory_size,
                     r.userspace_addr);
}

std::string errno_name(int negative_errno) {
  switch (-negative_errno) {
    case 0: return "0";
    case EINVAL: return "-EINVAL";
    case EEXIST: return "-EEXIST";
    case ENOMEM: return "-ENOMEM";
    case EFAULT: return "-EFAULT";
    case ENOSPC: return "-ENOSPC";
    case EIO: return "-EIO";
    default: return fmt::format("-{} ({})", -negative_errno, std::strerror(-negative_errno));
  }
}

}  // namespace vmemcheck
