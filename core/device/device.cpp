#include "device.hpp"

#include <cassert>

#include <fmt/format.h>

#include "decision.hpp"
#include "steps.hpp"

namespace vmemcheck {
namespace {

SlotRange slot_range(const decision::IndexRange<Word>& range) { return {range.first, range.end}; }

}  // namespace

Result<std::unique_ptr<VirtioMemDevice>> VirtioMemDevice::create(const DeviceConfig& config,
                                                                 uint64_t memslot_limit,
                                                                 DeviceHandle handle,
                                                                 MemslotBackend& backend,
                                                                 uint32_t numa_nodes) {
  if (!config.addr) return Error{fmt::format("device '{}': no address assigned", config.id)};
  if (auto valid = validate(config, numa_nodes); !valid) return valid.error();
  auto policy = make_memslot_policy(config);
  const auto layout = policy->layout(config.region_size, config.block_size, memslot_limit);
  std::unique_ptr<VirtioMemDevice> device(
      new VirtioMemDevice(config, std::move(policy), layout, memslot_limit, handle, backend));
  // Realize: the usable region is computed from scratch (it may "shrink").
  device->requested_ = config.requested_size;
  device->usable_ = device->usable_for(config.requested_size);
  if (auto mapped = device->decide_by_wanted({0, layout.count}); !mapped) {
    return Error{fmt::format("device '{}': mapping its memslots failed: {}", config.id,
                             mapped.error().message)};
  }
  return device;
}

VirtioMemDevice::VirtioMemDevice(const DeviceConfig& config, std::unique_ptr<MemslotPolicy> policy,
                                 MemslotLayout layout, uint64_t memslot_limit, DeviceHandle handle,
                                 MemslotBackend& backend)
    : config_(config),
      policy_(std::move(policy)),
      layout_(layout),
      memslot_limit_(memslot_limit),
      handle_(handle),
      backend_(backend),
      bitmap_(config.region_size / config.block_size),
      mapped_(layout.count, 0) {}

VirtioMemDevice::~VirtioMemDevice() {
  SlotTransaction teardown;
  for (uint64_t i = 0; i < layout_.count; ++i) {
    if (mapped_[i]) teardown.unmap.push_back(slot(i));
  }
  // Unmapping cannot fail (backend contract). The backing memory stays: its
  // owner detaches it (or hands it to a migration destination).
  (void)backend_.apply(teardown);
}

SlotMapping VirtioMemDevice::slot(uint64_t index) const {
  const uint64_t offset = layout_.offset(index);
  return {handle_, index, addr() + offset, layout_.length(index), offset};
}

ConfigSpace VirtioMemDevice::config_space() const {
  return {config_.block_size, config_.node, addr(),       config_.region_size,
          usable_,            plugged_size(), requested_};
}

uint64_t VirtioMemDevice::usable_for(uint64_t requested) const {
  return decision::usable_region_size<Word>(config_.region_size, config_.block_size, requested,
                                            usable_extent(config_.arch));
}

bool VirtioMemDevice::range_valid(uint64_t gpa, uint16_t nb_blocks) const {
  return decision::request_range_valid<Word>(addr(), usable_, config_.block_size, gpa, nb_blocks);
}

std::optional<Response> VirtioMemDevice::handle_raw(const DecodedRequest& request,
                                                    uint64_t readable_bytes,
                                                    uint64_t writable_bytes) {
  if (needs_reset()) return std::nullopt;
  if (readable_bytes < kRequestSize) {
    enter_error_state(fmt::format("request too short: {} device-readable bytes, need {}",
                                  readable_bytes, kRequestSize));
    return std::nullopt;
  }
  if (writable_bytes < kResponseSize) {
    enter_error_state(fmt::format("response buffer too short: {} device-writable bytes, need {}",
                                  writable_bytes, kResponseSize));
    return std::nullopt;
  }
  const auto known = request.known();
  if (!known) {
    enter_error_state(fmt::format("unknown request type {}", request.raw_type));
    return std::nullopt;
  }
  return handle(*known);
}

std::optional<Response> VirtioMemDevice::handle(const Request& request) {
  if (needs_reset()) return std::nullopt;
  // size is computed in 64 bits and may wrap, like the device (DESIGN §6).
  const uint64_t size = uint64_t{request.nb_blocks} * config_.block_size;
  switch (request.type) {
    case RequestType::Plug:
      return range_valid(request.addr, request.nb_blocks) ? plug(request.addr, size)
                                                          : Response{ResponseType::Error};
    case RequestType::Unplug:
      return range_valid(request.addr, request.nb_blocks) ? unplug(request.addr, size)
                                                          : Response{ResponseType::Error};
    case RequestType::UnplugAll: return unplug_all();
    case RequestType::State:
      return range_valid(request.addr, request.nb_blocks) ? state(request.addr, size)
                                                          : Response{ResponseType::Error};
  }
  return std::nullopt;
}

void VirtioMemDevice::enter_error_state(std::string reason) {
  if (!error_reason_) error_reason_ = std::move(reason);
}

void VirtioMemDevice::virtio_reset() { error_reason_.reset(); }

// DESIGN §6 PLUG, steps 2-7. The range is valid.
Response VirtioMemDevice::plug(uint64_t gpa, uint64_t size) {
  const uint64_t offset = gpa - addr();
  const uint64_t first_block = offset / config_.block_size;
  const uint64_t blocks = size / config_.block_size;
  if (plugged_size() + size > requested_) return {ResponseType::Nack};
  if (!bitmap_.none_set(first_block, blocks)) return {ResponseType::Error};
  if (busy_) return {ResponseType::Busy};
  const auto touched = decision::touched_slots<Word>(layout_.slot_size, offset, size);
  // Activate before populating/notifying, so listeners see the memslot first.
  const bool activated =
      decide_slots(slot_range(decision::plug_activation_range(touched)),
                   [&](uint64_t i) { return decision::mapped_after_activation(slot_mapped(i)); })
          .ok();
  const bool populated = activated && backend_.populate(handle_, offset, size).ok();
  if (decision::plug_rolls_back(activated, populated)) {
    // With the bitmap unchanged, this unmaps exactly the memslots this request activated.
    (void)decide_by_wanted(slot_range(decision::plug_rollback_range(touched)));
  }
  if (!decision::plug_sets_bits(activated, populated)) {
    (void)backend_.discard(handle_, offset, size);
    return {ResponseType::Busy};
  }
  bitmap_.set_range(first_block, blocks);
  return {ResponseType::Ack};
}

// DESIGN §6 UNPLUG, steps 3-7. The range is valid.
Response VirtioMemDevice::unplug(uint64_t gpa, uint64_t size) {
  const uint64_t offset = gpa - addr();
  const uint64_t first_block = offset / config_.block_size;
  const uint64_t blocks = size / config_.block_size;
  if (!bitmap_.all_set(first_block, blocks)) return {ResponseType::Error};
  if (busy_) return {ResponseType::Busy};
  if (!backend_.discard(handle_, offset, size)) return {ResponseType::Busy};
  bitmap_.clear_range(first_block, blocks);
  // Deactivate what is now fully unplugged. Unmapping cannot fail.
  const auto touched = decision::touched_slots<Word>(layout_.slot_size, offset, size);
  (void)decide_slots(slot_range(decision::unplug_decided_range(touched)),
                     [&](uint64_t i) { return decision::mapped_after_unplug(slot_wanted(i)); });
  return {ResponseType::Ack};
}

// DESIGN §6 UNPLUG_ALL.
Response VirtioMemDevice::unplug_all() {
  if (bitmap_.count_set() != 0) {
    if (busy_) return {ResponseType::Busy};
    if (!backend_.discard(handle_, 0, config_.region_size)) return {ResponseType::Busy};
    bitmap_.clear_all();
  }
  // The usable region may shrink here; one transaction deactivates what the
  // emptied bitmap and the smaller usable region no longer need.
  usable_ = decision::usable_after_unplug_all<Word>(config_.region_size, config_.block_size, requested_,
                                                    usable_extent(config_.arch));
  (void)decide_by_wanted(slot_range(decision::unplug_all_decided_range<Word>(layout_.count)));
  return {ResponseType::Ack};
}

Response VirtioMemDevice::state(uint64_t gpa, uint64_t size) const {
  const uint64_t first_block = (gpa - addr()) / config_.block_size;
  const uint64_t blocks = size / config_.block_size;
  const uint64_t plugged = bitmap_.count_set(first_block, blocks);
  const BlockState state = plugged == blocks ? BlockState::Plugged
                           : plugged == 0    ? BlockState::Unplugged
                                             : BlockState::Mixed;
  return {ResponseType::Ack, state};
}

Status VirtioMemDevice::set_requested_size(uint64_t requested_size) {
  if (requested_size % config_.block_size != 0) {
    return Error{fmt::format("device '{}': requested-size {:#x} is not a multiple of block-size {}",
                             config_.id, requested_size, format_size(config_.block_size))};
  }
  if (requested_size > config_.region_size) {
    return Error{fmt::format("device '{}': requested-size {:#x} exceeds the region size {:#x}",
                             config_.id, requested_size, config_.region_size)};
  }
  const uint64_t old_requested = requested_;
  const uint64_t old_usable = usable_;
  requested_ = requested_size;
  // A host resize only lets the usable region grow.
  usable_ = decision::usable_after_resize<Word>(usable_, config_.region_size, config_.block_size, requested_size,
                                                usable_extent(config_.arch));
  if (auto mapped = decide_by_wanted(slot_range(decision::resize_decided_range<Word>(layout_.count)));
      !mapped) {
    requested_ = old_requested;
    usable_ = old_usable;
    return Error{fmt::format("device '{}': growing the usable region failed: {}", config_.id,
                             mapped.error().message)};
  }
  config_.requested_size = requested_size;
  return ok_status();
}

void VirtioMemDevice::system_reset() {
  error_reason_.reset();
  // Like UNPLUG_ALL; a BUSY answer (migration running) leaves memory plugged.
  (void)unplug_all();
}

MigrationState VirtioMemDevice::save() const {
  return {addr(), config_.region_size, config_.block_size, config_.node, usable_,
          plugged_size(), requested_, bitmap_, error_reason_};
}

Status VirtioMemDevice::load(const MigrationState& s, LoadInto into) {
  const auto fail = [&](std::string message) -> Status {
    return Error{fmt::format("device '{}': migration load failed: {}", config_.id, message)};
  };
  if (s.addr != addr()) return fail(fmt::format("addr {:#x} != {:#x}", s.addr, addr()));
  if (s.region_size != config_.region_size) {
    return fail(fmt::format("region size {:#x} != {:#x}", s.region_size, config_.region_size));
  }
  if (s.block_size != config_.block_size) {
    return fail(fmt::format("block size {:#x} != {:#x}", s.block_size, config_.block_size));
  }
  if (s.node != config_.node) return fail(fmt::format("node {} != {}", s.node, config_.node));
  if (s.bitmap.size() != bitmap_.size()) {
    return fail(fmt::format("bitmap of {} blocks, device has {}", s.bitmap.size(), bitmap_.size()));
  }
  if (s.plugged_size != s.bitmap.count_set() * s.block_size) {
    return fail(fmt::format("plugged size {:#x} disagrees with the bitmap ({} blocks)",
                            s.plugged_size, s.bitmap.count_set()));
  }
  if (s.usable_region_size > s.region_size || s.usable_region_size % s.block_size != 0 ||
      s.requested_size > s.region_size || s.requested_size % s.block_size != 0) {
    return fail("usable or requested size out of range or unaligned");
  }
  const uint64_t usable_blocks = s.usable_region_size / s.block_size;
  if (s.bitmap.next_set(usable_blocks) != s.bitmap.size()) {
    return fail("a plugged block lies outside the usable region");
  }
  if (bitmap_.count_set() != 0) return fail("the destination device has plugged memory");

  const auto old_usable = usable_;
  const auto old_requested = requested_;
  const auto undo = [&](const Error& error) {
    bitmap_.clear_all();
    usable_ = old_usable;
    requested_ = old_requested;
    (void)decide_by_wanted({0, layout_.count});  // unmaps only
    return fail(error.message);
  };
  bitmap_ = s.bitmap;
  usable_ = s.usable_region_size;
  requested_ = s.requested_size;
  // QEMU's post-load order: memslots first, then the unplugged memory is discarded.
  if (auto mapped = decide_by_wanted({0, layout_.count}); !mapped) return undo(mapped.error());
  if (into == LoadInto::Destination) {
    if (auto discarded = discard_unplugged(); !discarded) return undo(discarded.error());
  }
  config_.requested_size = requested_;
  error_reason_ = s.error_reason;
  return ok_status();
}

Status VirtioMemDevice::discard_unplugged() {
  for (uint64_t block = bitmap_.next_clear(0); block < bitmap_.size();) {
    const uint64_t end = bitmap_.next_set(block);
    if (auto discarded = backend_.discard(handle_, block * config_.block_size, (end - block) * config_.block_size);
        !discarded) {
      return discarded;
    }
    block = bitmap_.next_clear(end);
  }
  return ok_status();
}

bool VirtioMemDevice::slot_wanted(uint64_t index) const {
  const MapRule rule = policy_->map_rule();
  // Only the plugged-blocks rule looks at the bitmap: skip the scan for the others.
  bool holds_plugged = false;
  if (rule == MapRule::PluggedBlocks) {
    const auto blocks = decision::slot_blocks<Word>(config_.region_size, layout_.slot_size, config_.block_size, index);
    holds_plugged = !bitmap_.none_set(blocks.first, blocks.count);
  }
  return decision::slot_wanted<Word>(rule == MapRule::WholeRegion, rule == MapRule::PluggedBlocks, holds_plugged,
                                     layout_.offset(index), usable_);
}

template <class MappedAfter>
Status VirtioMemDevice::decide_slots(SlotRange range, MappedAfter mapped_after) {
  SlotTransaction transaction;
  for (uint64_t i = range.first; i < range.end; ++i) {
    const bool mapped = mapped_after(i);
    if (mapped && !mapped_[i]) transaction.map.push_back(slot(i));
    if (!mapped && mapped_[i]) transaction.unmap.push_back(slot(i));
  }
  return commit(transaction);
}

Status VirtioMemDevice::decide_by_wanted(SlotRange range) {
  return decide_slots(range, [&](uint64_t i) { return decision::mapped_when_decided(slot_wanted(i)); });
}

Status VirtioMemDevice::commit(const SlotTransaction& transaction) {
  if (transaction.empty()) return ok_status();
  if (auto applied = backend_.apply(transaction); !applied) return applied;
  for (const auto& s : transaction.unmap) mapped_[s.index] = 0;
  for (const auto& s : transaction.map) mapped_[s.index] = 1;
  mapped_count_ = mapped_count_ + transaction.map.size() - transaction.unmap.size();
  return ok_status();
}

}  // namespace vmemcheck
