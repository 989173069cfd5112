#include "kvm_slot_backend.hpp"

#include <algorithm>
#include <cassert>

#include <fmt/format.h>

namespace vmemcheck {

KvmSlotBackend::KvmSlotBackend(KvmVm& vm, HostMemory& host, KvmBackendOptions options)
    : vm_(vm), host_(host), options_(options), id_used_(vm.max_memslots(), 0) {
  for (uint32_t id = 0; id < options_.reserved_slots && id < id_used_.size(); ++id) mark_id(id, true);
  reserved_ids_ = ids_in_use_;
}

KvmSlotBackend::~KvmSlotBackend() {
  std::vector<Step> log;
  for (Attached& device : attached_) {
    for (const Mapped& slot : device.slots) {
      if (slot.id != kUnmapped) (void)unmap_one(slot.mapping, log);
    }
    host_.release(device.hva, device.size);
  }
}

KvmSlotBackend::Attached* KvmSlotBackend::attached(DeviceHandle device) {
  for (Attached& a : attached_) {
    if (a.device == device) return &a;
  }
  return nullptr;
}

const KvmSlotBackend::Attached* KvmSlotBackend::attached(DeviceHandle device) const {
  return const_cast<KvmSlotBackend*>(this)->attached(device);
}

KvmSlotBackend::Mapped& KvmSlotBackend::entry(Attached& device, uint64_t index) {
  if (index >= device.slots.size()) device.slots.resize(index + 1, Mapped{kUnmapped, {}});
  return device.slots[index];
}

Status KvmSlotBackend::attach(DeviceHandle device, uint64_t region_size) {
  if (attached(device)) return Error{fmt::format("device handle {} attached twice", device)};
  auto hva = host_.allocate(region_size);
  if (!hva) return hva.error();
  attached_.push_back({device, *hva, region_size, {}});
  return ok_status();
}

void KvmSlotBackend::detach(DeviceHandle device) {
  const Attached* a = attached(device);
  if (!a) return;
  // The device unmapped its memslots first (its destructor does).
  assert(std::none_of(a->slots.begin(), a->slots.end(), [](const Mapped& m) { return m.id != kUnmapped; }));
  host_.release(a->hva, a->size);
  attached_.erase(attached_.begin() + (a - attached_.data()));
}

std::optional<uint64_t> KvmSlotBackend::device_hva(DeviceHandle device) const {
  const Attached* a = attached(device);
  if (!a) return std::nullopt;
  return a->hva;
}

std::optional<uint32_t> KvmSlotBackend::free_id() const {
  for (uint32_t id = lowest_maybe_free_; id < id_used_.size(); ++id) {
    if (!id_used_[id]) return id;
  }
  return std::nullopt;
}

// The runner asks before every step: a counter, not a scan of up to 32767 ids.
uint32_t KvmSlotBackend::free_slots() const { return static_cast<uint32_t>(id_used_.size()) - ids_in_use_; }

void KvmSlotBackend::mark_id(uint32_t id, bool used) {
  // Never a no-op: the constructor marks each reserved id once, install()
  // takes a free id (free_id(), or in undo the id its unmap freed) and
  // unmap_one() frees a used one.
  assert(id_used_[id] != used);
  id_used_[id] = used;
  if (!used) lowest_maybe_free_ = std::min(lowest_maybe_free_, id);
  while (lowest_maybe_free_ < id_used_.size() && id_used_[lowest_maybe_free_]) ++lowest_maybe_free_;
  ids_in_use_ = used ? ids_in_use_ + 1 : ids_in_use_ - 1;
}

KvmRegion KvmSlotBackend::region_of(const Mapped& slot, uint32_t address_space, bool remove) const {
  const uint64_t hva = attached(slot.mapping.device)->hva + slot.mapping.backing_offset;
  return {kvm_slot_id(address_space, slot.id), options_.flags, slot.mapping.gpa,
          remove ? 0 : slot.mapping.size, hva};
}

Status KvmSlotBackend::set_slot(const Mapped& slot, bool remove) {
  const uint32_t spaces = options_.smm ? 2 : 1;
  for (uint32_t as = 0; as < spaces; ++as) {
    const KvmRegion region = region_of(slot, as, remove);
    ++ioctl_calls_;
    if (const int rc = vm_.set_user_memory_region(region); rc != 0) {
      // Keep the address spaces in step: undo the first space's half.
      if (as == 1) {
        ++ioctl_calls_;
        (void)vm_.set_user_memory_region(region_of(slot, 0, !remove));
      }
      return Error{fmt::format("{} failed: {}", describe(region), errno_name(rc))};
    }
  }
  return ok_status();
}

Status KvmSlotBackend::map_one(const SlotMapping& mapping, std::vector<Step>& log) {
  Attached* device = attached(mapping.device);
  if (!device) return Error{fmt::format("device handle {} has no backing memory", mapping.device)};
  if (entry(*device, mapping.index).id != kUnmapped) {
    return Error{fmt::format("memslot {} of device {} is already mapped", mapping.index, mapping.device)};
  }
  const auto id = free_id();
  if (!id) return Error{fmt::format("no free KVM memslot (KVM_CAP_NR_MEMSLOTS = {})", vm_.max_memslots())};
  return install(Mapped{*id, mapping}, log);
}

// slot's device is attached (map_one or undo checked).
Status KvmSlotBackend::install(const Mapped& slot, std::vector<Step>& log) {
  if (auto set = set_slot(slot, false); !set) return set;
  mark_id(slot.id, true);
  entry(*attached(slot.mapping.device), slot.mapping.index) = slot;
  by_gpa_[slot.mapping.gpa] = {slot.mapping.device, slot.mapping.index};
  log.push_back({true, slot});
  return ok_status();
}

Status KvmSlotBackend::unmap_one(const SlotMapping& mapping, std::vector<Step>& log) {
  Attached* device = attached(mapping.device);
  if (!device || mapping.index >= device->slots.size() || device->slots[mapping.index].id == kUnmapped) {
    return Error{fmt::format("memslot {} of device {} is not mapped", mapping.index, mapping.device)};
  }
  Mapped& entry = device->slots[mapping.index];
  const Mapped slot = entry;
  if (auto set = set_slot(slot, true); !set) return set;
  mark_id(slot.id, false);
  by_gpa_.erase(slot.mapping.gpa);
  entry.id = kUnmapped;
  log.push_back({false, slot});
  return ok_status();
}

void KvmSlotBackend::undo(const std::vector<Step>& log) {
  std::vector<Step> ignored;
  for (auto step = log.rbegin(); step != log.rend(); ++step) {
    // Undoing restores a state KVM accepted a moment ago; it cannot fail.
    // An unmapped slot comes back under its old id, so the KVM slot table
    // is exactly what it was.
    [[maybe_unused]] const Status undone = step->mapped ? unmap_one(step->slot.mapping, ignored)
                                                        : install(step->slot, ignored);
    assert(undone.ok());
  }
}

Status KvmSlotBackend::apply(const SlotTransaction& transaction) {
  std::vector<Step> log;
  for (const auto& mapping : transaction.unmap) {
    if (auto done = unmap_one(mapping, log); !done) {
      undo(log);
      return done;
    }
  }
  for (const auto& mapping : transaction.map) {
    if (auto done = map_one(mapping, log); !done) {
      undo(log);
      return done;
    }
  }
  return ok_status();
}

Status KvmSlotBackend::discard(DeviceHandle device, uint64_t offset, uint64_t size) {
  const Attached* a = attached(device);
  if (!a || offset > a->size || size > a->size - offset) {
    return Error{fmt::format("discard [{:#x}, +{:#x}) outside device {}'s backing", offset, size, device)};
  }
  return host_.discard(a->hva + offset, size);
}

Status KvmSlotBackend::populate(DeviceHandle device, uint64_t offset, uint64_t size) {
  const Attached* a = attached(device);
  if (!a || offset > a->size || size > a->size - offset) {
    return Error{fmt::format("populate [{:#x}, +{:#x}) outside device {}'s backing", offset, size, device)};
  }
  return host_.populate(a->hva + offset, size);
}

const KvmSlotBackend::Mapped* KvmSlotBackend::find_range(uint64_t gpa, uint64_t size) const {
  auto it = by_gpa_.upper_bound(gpa);
  if (it == by_gpa_.begin()) return nullptr;
  --it;
  // The slot starting last at or below gpa: the only one that can hold it.
  const Mapped& slot = attached(it->second.first)->slots[it->second.second];
  const uint64_t offset = gpa - slot.mapping.gpa;
  return size <= slot.mapping.size && offset <= slot.mapping.size - size ? &slot : nullptr;
}

// Accesses may not straddle memslots: a vCPU access would be split by KVM
// and we want each probe to name one slot. Size 0 is accessible anywhere,
// as GuestMemory says and GuestRam does.
bool KvmSlotBackend::read(uint64_t gpa, std::span<uint8_t> bytes) {
  if (bytes.empty()) return true;
  const Mapped* slot = find_range(gpa, bytes.size());
  if (!slot) return false;
  host_.read(attached(slot->mapping.device)->hva + slot->mapping.backing_offset + (gpa - slot->mapping.gpa), bytes);
  return true;
}

bool KvmSlotBackend::write(uint64_t gpa, std::span<const uint8_t> bytes) {
  if (bytes.empty()) return true;
  const Mapped* slot = find_range(gpa, bytes.size());
  if (!slot) return false;
  host_.write(attached(slot->mapping.device)->hva + slot->mapping.backing_offset + (gpa - slot->mapping.gpa), bytes);
  return true;
}

bool KvmSlotBackend::accessible(uint64_t gpa, uint64_t size) const {
  return size == 0 || find_range(gpa, size) != nullptr;
}

}  // namespace vmemcheck
