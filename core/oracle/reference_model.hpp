// The reference model: an obviously-correct, per-block, slow model of one
// virtio-mem device and of which of its memslots must be mapped, written from
// DESIGN §3/§6 and sharing no code with the device (no decision.hpp, no
// bitmap words): 128-bit arithmetic instead of overflow reasoning, one bool
// per block, loops instead of formulas. Fuzzers and property tests run it
// beside the core and compare after every step. Its only concession to
// speed is bookkeeping next to the per-block truth (a total and per-memslot
// count of plugged blocks, each changed in the same loop that flips a
// block), so a fuzzer's check after every step does not recount the region.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "device_config.hpp"
#include "fault_injection.hpp"
#include "reference_guest_data.hpp"
#include "wire.hpp"

namespace vmemcheck {

// The bytes of x86 KVM metadata one memslot over [gpa, gpa + size) costs
// (DESIGN §1, KVM-IN-TCG.md's table), from frame counts per page level
// instead of gfn arithmetic: an rmap entry per 4 KiB, 2 MiB and 1 GiB frame
// the slot touches (none with the TDP MMU), 2 bytes of gfn_track per 4 KiB
// page, 4 bytes of lpage_info per 2 MiB and 1 GiB frame, and with dirty
// logging two bitmaps of a bit per page in whole 8-byte longs.
uint64_t reference_slot_metadata(uint64_t gpa, uint64_t size, bool tdp_mmu, bool dirty_logging);

struct ReferenceLayout {
  uint64_t slot_size;
  uint64_t slot_count;
};
// The memslots of a device of `config` under the machine's limit for an
// automatic policy (DESIGN §1/§6).
ReferenceLayout reference_layout(const DeviceConfig& config, uint64_t memslot_limit);

class ReferenceModel {
 public:
  // `config` must be valid and have an address; `memslot_limit` is the limit
  // the machine handed to an automatic policy.
  ReferenceModel(const DeviceConfig& config, uint64_t memslot_limit);

  std::optional<Response> request(const Request& request);
  std::optional<Response> raw_request(uint16_t raw_type, uint64_t addr, uint16_t nb_blocks,
                                      uint64_t readable_bytes, uint64_t writable_bytes);
  void transport_error() { broken_ = true; }
  void virtio_reset() { broken_ = false; }
  // Returns false (and changes nothing) when the new size is invalid or the
  // backend refuses to map what the grown usable region needs.
  bool resize(uint64_t requested);
  void system_reset();
  // The destination side of a migration: `source`'s state, slots mapped as
  // this model's rule wants them, and the source's memory with every
  // unplugged block discarded (DESIGN §6 "Migration"). The virtio status
  // travels with the VM (DESIGN §7): a source that needed a reset gives a
  // destination that answers nothing until a virtio reset.
  void restore(const ReferenceModel& source);
  // A hot-remove is allowed only with nothing plugged and requested 0 (DESIGN
  // §6 "Host side"), and, as QEMU decides where §6 is silent (§7), only with
  // unplugged memory inaccessible.
  bool removable() const { return plugged_blocks_ == 0 && requested_ == 0 && config_.unplugged_inaccessible; }
  void set_busy(bool busy) { busy_ = busy; }
  // The next call of this kind fails (skip calls first), as FaultInjectingBackend.
  void arm(FaultKind kind, uint32_t skip) { armed_[static_cast<size_t>(kind)] = skip; }
  // KVM memslot ids free right now on the machine (shared with other devices
  // and consumers): an activation needing more fails like a refused map.
  void set_free_memslots(uint64_t free) { free_memslots_ = free; }
  // The guest's physical address width: KVM refuses a memslot that ends
  // beyond 2^bits (x86's max-gfn check), like a refused map.
  void set_phys_bits(uint32_t bits) { phys_end_ = uint64_t{1} << bits; }
  // True when a mapped memslot ends beyond what the guest can address.
  bool maps_beyond_phys() const;
  void disarm_all() {
    for (auto& armed : armed_) armed.reset();
  }

  uint64_t slot_size() const { return slot_size_; }
  uint64_t slot_count() const { return slot_count_; }
  bool mapped(uint64_t slot) const { return mapped_[slot] != 0; }
  const DeviceConfig& config() const { return config_; }
  // One byte per memslot, 1 while mapped, as VirtioMemDevice::mapped_flags().
  std::span<const uint8_t> mapped_flags() const { return mapped_; }
  ConfigSpace config_space() const;
  // The metadata bytes of this device's mapped memslots, in one address space.
  uint64_t mapped_metadata(bool tdp_mmu, bool dirty_logging) const;
  bool needs_reset() const { return broken_; }
  const std::vector<uint8_t>& blocks() const { return plugged_; }  // 1: plugged
  // What the guest reads back where its memory is accessible.
  ReferenceGuestData& guest_data() { return guest_data_; }
  const ReferenceGuestData& guest_data() const { return guest_data_; }

 private:
  enum class Rule { Whole, Usable, Plugged };
  uint64_t usable_for(uint64_t requested) const;
  bool in_usable(uint64_t gpa, uint64_t size) const;
  bool slot_has_plugged(uint64_t slot) const;
  bool slot_wanted(uint64_t slot) const;
  bool beyond_phys(uint64_t slot) const;
  // Returns false when a map was refused (fault); nothing changed then.
  bool sync_slots(const std::vector<uint64_t>& slots, bool map_every_slot);
  std::vector<uint64_t> slots_of(uint64_t offset, uint64_t size) const;
  std::vector<uint64_t> all_slots() const;
  // The memslot holding block `block` (the block's offset over the memslot size).
  uint64_t slot_of(uint64_t block) const;
  // The first block slot_of() puts in memslot `slot` (slot_count_: one past the last block).
  uint64_t first_block_of(uint64_t slot) const;
  void set_block(uint64_t block, bool plugged);
  void count_plugged();
  bool fails(FaultKind kind);
  Response plug(uint64_t gpa, uint64_t size);
  Response unplug(uint64_t gpa, uint64_t size);
  Response unplug_all();

  DeviceConfig config_;
  Rule rule_;
  uint64_t slot_size_ = 0;
  uint64_t slot_count_ = 0;
  std::vector<uint8_t> plugged_;  // a byte per block: counted a memslot at a time
  uint64_t plugged_blocks_ = 0;
  std::vector<uint64_t> plugged_in_slot_;
  uint64_t usable_ = 0;
  uint64_t requested_ = 0;
  bool busy_ = false;
  bool broken_ = false;
  std::vector<uint8_t> mapped_;
  std::optional<uint32_t> armed_[kFaultKinds];
  uint64_t free_memslots_ = UINT64_MAX;
  uint64_t phys_end_ = UINT64_MAX;
  ReferenceGuestData guest_data_;
};

}  // namespace vmemcheck
