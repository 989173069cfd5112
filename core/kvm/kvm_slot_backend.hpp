// MemslotBackend over the KVM memslot API: turns the device's slot
// transactions into KVM_SET_USER_MEMORY_REGION calls (mirrored into the SMM
// address space when asked), allocates slot ids, undoes a partly applied
// transaction, and resolves guest-physical accesses through the mapped slots.
// The same code drives the shadow model and real KVM.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "backend.hpp"
#include "host_memory.hpp"
#include "kvm_vm.hpp"

namespace vmemcheck {

struct KvmBackendOptions {
  bool smm = false;              // mirror every slot into the SMM address space
  uint32_t reserved_slots = 0;   // ids [0, reserved_slots) belong to other consumers
  uint32_t flags = 0;            // KVM_MEM_* flags of every slot
};

class KvmSlotBackend final : public MemslotBackend, public GuestMemory {
 public:
  KvmSlotBackend(KvmVm& vm, HostMemory& host, KvmBackendOptions options = {});
  ~KvmSlotBackend() override;

  Status attach(DeviceHandle device, uint64_t region_size) override;
  void detach(DeviceHandle device) override;
  Status apply(const SlotTransaction& transaction) override;
  Status discard(DeviceHandle device, uint64_t offset, uint64_t size) override;
  Status populate(DeviceHandle device, uint64_t offset, uint64_t size) override;

  bool read(uint64_t gpa, std::span<uint8_t> bytes) override;
  bool write(uint64_t gpa, std::span<const uint8_t> bytes) override;
  bool accessible(uint64_t gpa, uint64_t size) const override;

  // Memslot ids still free for memory devices (per address space).
  uint32_t free_slots() const;
  uint32_t used_slots() const { return ids_in_use_ - reserved_ids_; }
  uint64_t ioctl_calls() const { return ioctl_calls_; }
  const KvmBackendOptions& options() const { return options_; }
  std::optional<uint64_t> device_hva(DeviceHandle device) const;

 private:
  struct Mapped {
    uint32_t id;
    SlotMapping mapping;
  };
  static constexpr uint32_t kUnmapped = UINT32_MAX;
  // A device's backing memory and its mapped memslots, indexed by memslot
  // index (id kUnmapped: not mapped). A vector, not a map: the fuzzers map
  // and unmap millions of memslots, and a machine has a handful of devices.
  struct Attached {
    DeviceHandle device;
    uint64_t hva;
    uint64_t size;
    std::vector<Mapped> slots;
  };
  // One logged step of a transaction, for undo.
  struct Step {
    bool mapped;  // true: the step mapped `slot`; false: it unmapped it
    Mapped slot;
  };

  std::optional<uint32_t> free_id() const;
  KvmRegion region_of(const Mapped& slot, uint32_t address_space, bool remove) const;
  // Issues the calls for one address-space set; returns the failing call's error.
  Status set_slot(const Mapped& slot, bool remove);
  Status map_one(const SlotMapping& mapping, std::vector<Step>& log);
  Status install(const Mapped& slot, std::vector<Step>& log);
  Status unmap_one(const SlotMapping& mapping, std::vector<Step>& log);
  void undo(const std::vector<Step>& log);
  // The mapped slot holding all of [gpa, gpa + size), size > 0, if any.
  const Mapped* find_range(uint64_t gpa, uint64_t size) const;
  Attached* attached(DeviceHandle device);
  const Attached* attached(DeviceHandle device) const;
  // Memslot `index` of an attached device, mapped or not (kUnmapped).
  Mapped& entry(Attached& device, uint64_t index);

  KvmVm& vm_;
  HostMemory& host_;
  KvmBackendOptions options_;
  std::vector<Attached> attached_;
  std::map<uint64_t, std::pair<DeviceHandle, uint64_t>> by_gpa_;  // gpa -> (device, index)
  void mark_id(uint32_t id, bool used);
  // A byte per id, not vector<bool>: the bounds-checked build
  // (_GLIBCXX_ASSERTIONS) checks this index, vector<bool>'s it does not.
  std::vector<uint8_t> id_used_;
  uint32_t lowest_maybe_free_ = 0;  // every id below is in use: free_id() starts here
  uint32_t ids_in_use_ = 0;
  uint32_t reserved_ids_ = 0;
  uint64_t ioctl_calls_ = 0;
};

}  // namespace vmemcheck
