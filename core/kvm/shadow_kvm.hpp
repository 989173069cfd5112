// A model of KVM's memslot table (Linux 6.1, x86): the validation of
// KVM_SET_USER_MEMORY_REGION and the kernel memory each slot costs. It must
// answer every call as real KVM does; the KVM suite checks it in lockstep.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "kvm_vm.hpp"

namespace vmemcheck {

struct KvmLimits {
  uint32_t max_memslots = 32764;  // KVM_USER_MEM_SLOTS on x86 (KVM_CAP_NR_MEMSLOTS)
  uint32_t address_spaces = 2;    // x86: normal + SMM
  uint32_t phys_bits = 46;        // guest MAXPHYADDR (our TCG guests run -cpu max,phys-bits=46)
  uint64_t page_size = 4096;
  friend bool operator==(const KvmLimits&, const KvmLimits&) = default;
};

// What KVM allocates per memslot on x86. Figures per seed 001/004:
// rmap 8 B per 4 KiB, 2 MiB and 1 GiB page (lazily, i.e. not at all, with the
// TDP MMU and no nested guest); gfn_track 2 B per 4 KiB page; lpage_info 4 B
// per 2 MiB and 1 GiB page; two dirty bitmaps of 1 bit per 4 KiB page while
// dirty logging is on.
struct MetadataModel {
  bool tdp_mmu = true;
  bool dirty_logging = false;
  friend bool operator==(const MetadataModel&, const MetadataModel&) = default;
};

struct SlotMetadata {
  uint64_t rmap = 0;
  uint64_t gfn_track = 0;
  uint64_t lpage_info = 0;
  uint64_t dirty_bitmaps = 0;
  uint64_t total() const { return rmap + gfn_track + lpage_info + dirty_bitmaps; }
  SlotMetadata& operator+=(const SlotMetadata& other);
};

// The metadata of one memslot covering [gpa, gpa + size).
SlotMetadata slot_metadata(uint64_t gpa, uint64_t size, const MetadataModel& model);

class ShadowKvm final : public KvmVm {
 public:
  explicit ShadowKvm(KvmLimits limits = {}, MetadataModel model = {});

  int set_user_memory_region(const KvmRegion& region) override;
  uint32_t max_memslots() const override { return limits_.max_memslots; }
  uint32_t address_spaces() const override { return limits_.address_spaces; }

  // The live slots, ordered by (address space, id), with their regions.
  std::vector<KvmRegion> slots() const;
  uint64_t slot_count() const;
  SlotMetadata metadata() const;
  uint64_t calls() const { return calls_; }
  // Once asked for, every change to the slot table is journaled:
  // a region that left it (-1) or entered it (+1), a move or flags change
  // being both, until cleared. For one reader, the invariant monitor, which so follows the
  // table at the cost of its changes.
  struct TableChange {
    KvmRegion region;
    int delta;
  };
  void keep_journal() { journaling_ = true; }
  std::span<const TableChange> journal() const { return journal_; }
  void clear_journal() { journal_.clear(); }  // keeps the capacity: no allocation per step
  const MetadataModel& metadata_model() const { return model_; }
  const KvmLimits& limits() const { return limits_; }

 private:
  int validate_and_apply(const KvmRegion& region);
  bool overlaps_another_slot(const KvmRegion& region) const;
  // The live slot with this slot field, or null.
  const KvmRegion* find(uint32_t as_id, uint32_t id) const;

  KvmLimits limits_;
  MetadataModel model_;
  // Per address space, indexed by id; memory_size 0 marks a free id. Ids are
  // small and handed out lowest first, so the tables stay short and a
  // lookup is an index, not a tree walk (a fuzzer makes millions of calls).
  std::vector<std::vector<KvmRegion>> slots_;
  uint64_t slot_count_ = 0;
  std::map<std::pair<uint32_t, uint64_t>, uint32_t> by_gpa_;  // (as_id, gpa) -> slot field
  uint64_t calls_ = 0;
  bool journaling_ = false;
  std::vector<TableChange> journal_;
};

}  // namespace vmemcheck
