// The virtio-mem device core: config space, block bitmap, the four requests,
// usable region, host resize, reset, migration and memslot (de)activation.
// Pure: every effect on the hypervisor goes through a MemslotBackend.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend.hpp"
#include "block_bitmap.hpp"
#include "device_config.hpp"
#include "memslot_policy.hpp"
#include "migration.hpp"
#include "result.hpp"
#include "wire.hpp"

namespace vmemcheck {

class VirtioMemDevice {
 public:
  // Validates the configuration (which must have an address), decides the
  // layout with `memslot_limit` (used by automatic policies) and maps the
  // initial memslots. The backend must outlive the device and hold the
  // device's backing memory (MemslotBackend::attach) before and after it.
  static Result<std::unique_ptr<VirtioMemDevice>> create(const DeviceConfig& config,
                                                         uint64_t memslot_limit,
                                                         DeviceHandle handle,
                                                         MemslotBackend& backend,
                                                         uint32_t numa_nodes = 1);
  ~VirtioMemDevice();
  VirtioMemDevice(const VirtioMemDevice&) = delete;
  VirtioMemDevice& operator=(const VirtioMemDevice&) = delete;

  // A well-formed request. Returns nothing while the device needs a reset
  // (it stopped processing its queue).
  std::optional<Response> handle(const Request& request);
  // A request as it came off the queue: the lengths of the device-readable and
  // device-writable parts of its chain, and its raw type. A protocol violation
  // (DESIGN §6) puts the device in its error state and is not answered.
  std::optional<Response> handle_raw(const DecodedRequest& request, uint64_t readable_bytes,
                                     uint64_t writable_bytes);
  // A chain-level fault found by the transport (loop, bad index, ...).
  void enter_error_state(std::string reason);
  // Driver-initiated virtio reset: clears the error state, keeps plugged memory.
  void virtio_reset();

  // Host resize (QMP requested-size). The usable region may only grow.
  Status set_requested_size(uint64_t requested_size);
  // System reset: unplugs everything like UNPLUG_ALL and clears the error state.
  void system_reset();
  // A migration is running (or an incoming postcopy): requests that would
  // change plugged memory answer BUSY.
  void set_busy(bool busy) { busy_ = busy; }
  bool busy() const { return busy_; }

  MigrationState save() const;
  // Where a state is loaded. A destination is a fresh VM: what the source
  // had unplugged reads zero there (QEMU's post-load discards it). A source
  // that resumes after a failed migration still has its own memory, which
  // the guest may have written where it was unplugged.
  enum class LoadInto { Destination, ResumedSource };
  // Loads migrated state into this freshly created device (nothing plugged),
  // its error state included: a device that needed a reset still does.
  // On failure the device is left as it was.
  Status load(const MigrationState& state, LoadInto into = LoadInto::Destination);

  // The properties as QOM shows them now: requested-size is the host's last
  // resize (or the migrated one), not the value the device was created with.
  const DeviceConfig& config() const { return config_; }
  const MemslotPolicy& policy() const { return *policy_; }
  const MemslotLayout& layout() const { return layout_; }
  uint64_t memslot_limit() const { return memslot_limit_; }
  const BlockBitmap& bitmap() const { return bitmap_; }
  ConfigSpace config_space() const;
  uint64_t addr() const { return *config_.addr; }
  uint64_t plugged_size() const { return bitmap_.count_set() * config_.block_size; }
  uint64_t usable_region_size() const { return usable_; }
  uint64_t requested_size() const { return requested_; }
  bool slot_mapped(uint64_t index) const { return mapped_[index] != 0; }
  // One byte per memslot, 1 while mapped: checkers compare it in one go.
  std::span<const uint8_t> mapped_flags() const { return mapped_; }
  uint64_t mapped_slot_count() const { return mapped_count_; }
  SlotMapping slot(uint64_t index) const;
  bool needs_reset() const { return error_reason_.has_value(); }
  const std::optional<std::string>& error_reason() const { return error_reason_; }
  DeviceHandle handle_id() const { return handle_; }

 private:
  VirtioMemDevice(const DeviceConfig& config, std::unique_ptr<MemslotPolicy> policy,
                  MemslotLayout layout, uint64_t memslot_limit, DeviceHandle handle,
                  MemslotBackend& backend);

  Response plug(uint64_t gpa, uint64_t size);
  Response unplug(uint64_t gpa, uint64_t size);
  Response unplug_all();
  Response state(uint64_t gpa, uint64_t size) const;
  bool range_valid(uint64_t gpa, uint16_t nb_blocks) const;
  uint64_t usable_for(uint64_t requested) const;

  // Whether the map rule wants slot `index` mapped in the current state.
  bool slot_wanted(uint64_t index) const;
  // Discards every unplugged block (a destination's memory the source did not send).
  Status discard_unplugged();
  // Carries out a step's decision (core/decision/steps.hpp) on the memslots
  // of `range`, as one transaction: memslot i mapped exactly when
  // mapped_after(i). Nothing changes when the backend refuses.
  template <class MappedAfter>
  Status decide_slots(SlotRange range, MappedAfter mapped_after);
  // A step that decides the memslots of `range` by what is wanted of them
  // (PLUG's rollback, UNPLUG_ALL, host resize, realize, migration's load).
  Status decide_by_wanted(SlotRange range);
  Status commit(const SlotTransaction& transaction);

  DeviceConfig config_;
  std::unique_ptr<MemslotPolicy> policy_;
  MemslotLayout layout_;
  uint64_t memslot_limit_;
  DeviceHandle handle_;
  MemslotBackend& backend_;
  BlockBitmap bitmap_;
  uint64_t usable_ = 0;
  uint64_t requested_ = 0;
  std::vector<uint8_t> mapped_;
  uint64_t mapped_count_ = 0;
  bool busy_ = false;
  std::optional<std::string> error_reason_;
};

}  // namespace vmemcheck
