#include "reference_model.hpp"

#include <algorithm>

namespace vmemcheck {
namespace {
// 128-bit arithmetic makes overflow impossible instead of reasoned about.
__extension__ using u128 = unsigned __int128;

uint64_t round_up(u128 value, uint64_t to) { return static_cast<uint64_t>((value + to - 1) / to * to); }
}  // namespace

uint64_t reference_slot_metadata(uint64_t gpa, uint64_t size, bool tdp_mmu, bool dirty_logging) {
  if (size == 0) return 0;
  const u128 start = gpa;
  const u128 end = start + size;
  const auto frames = [&](uint64_t frame) { return static_cast<uint64_t>(round_up(end, frame) / frame - start / frame); };
  const uint64_t pages = frames(4 * KiB);
  uint64_t bytes = 2 * pages + 4 * (frames(2 * MiB) + frames(GiB));
  if (!tdp_mmu) bytes += 8 * (pages + frames(2 * MiB) + frames(GiB));
  if (dirty_logging) bytes += 2 * 8 * ((pages + 63) / 64);
  return bytes;
}

ReferenceLayout reference_layout(const DeviceConfig& config, uint64_t memslot_limit) {
  const uint64_t region = config.region_size;
  uint64_t slot_size = region;
  // Straight from DESIGN §1/§6 and the seeds.
  switch (config.mode) {
    case MemslotMode::Static: break;
    case MemslotMode::Count: {
      const uint64_t align = std::max<uint64_t>(config.block_size, 128 * MiB);
      const uint64_t per_slot = static_cast<uint64_t>((u128{region} + config.memslots - 1) / config.memslots);
      if (config.memslots > 1) slot_size = std::max(round_up(per_slot, align), align);
      break;
    }
    case MemslotMode::Multiple:
    case MemslotMode::Dynamic:
      if (memslot_limit > 1) {
        slot_size = std::max(round_up(region / memslot_limit, config.block_size),
                             std::max<uint64_t>(config.block_size, GiB));
      }
      break;
    case MemslotMode::Fixed: slot_size = config.fixed_slot_size; break;
  }
  slot_size = std::min(slot_size, region);
  uint64_t slot_count = 0;
  for (u128 offset = 0; offset < region; offset += slot_size) ++slot_count;
  return {slot_size, slot_count};
}

ReferenceModel::ReferenceModel(const DeviceConfig& config, uint64_t memslot_limit)
    : config_(config), plugged_(config.region_size / config.block_size, 0) {
  switch (config.mode) {
    case MemslotMode::Static: rule_ = Rule::Whole; break;
    case MemslotMode::Count: rule_ = Rule::Usable; break;
    case MemslotMode::Multiple:
    case MemslotMode::Dynamic:
      rule_ = (config.mode == MemslotMode::Dynamic || config.unplugged_inaccessible) ? Rule::Plugged : Rule::Usable;
      break;
    case MemslotMode::Fixed: rule_ = Rule::Plugged; break;
  }
  const ReferenceLayout layout = reference_layout(config, memslot_limit);
  slot_size_ = layout.slot_size;
  slot_count_ = layout.slot_count;
  plugged_in_slot_.assign(slot_count_, 0);
  requested_ = config.requested_size;
  usable_ = usable_for(requested_);
  mapped_.assign(slot_count_, 0);
  for (uint64_t slot = 0; slot < slot_count_; ++slot) mapped_[slot] = slot_wanted(slot);
}

uint64_t ReferenceModel::slot_of(uint64_t block) const { return block * config_.block_size / slot_size_; }

// Block b is in memslot floor(b * block / slot_size), so memslot s starts at
// block ceil(s * slot_size / block).
uint64_t ReferenceModel::first_block_of(uint64_t slot) const {
  const u128 first = (u128{slot} * slot_size_ + config_.block_size - 1) / config_.block_size;
  return static_cast<uint64_t>(std::min<u128>(first, plugged_.size()));
}

void ReferenceModel::set_block(uint64_t block, bool plugged) {
  if (plugged_[block] == plugged) return;
  plugged_[block] = plugged;
  if (plugged) {
    ++plugged_blocks_;
    ++plugged_in_slot_[slot_of(block)];
  } else {
    --plugged_blocks_;
    --plugged_in_slot_[slot_of(block)];
  }
}

void ReferenceModel::count_plugged() {
  plugged_blocks_ = 0;
  for (uint64_t slot = 0; slot < slot_count_; ++slot) {
    const auto first = plugged_.begin() + static_cast<std::ptrdiff_t>(first_block_of(slot));
    const auto end = plugged_.begin() + static_cast<std::ptrdiff_t>(first_block_of(slot + 1));
    plugged_in_slot_[slot] = static_cast<uint64_t>(std::count(first, end, uint8_t{1}));
    plugged_blocks_ += plugged_in_slot_[slot];
  }
}

uint64_t ReferenceModel::usable_for(uint64_t requested) const {
  if (requested == 0) return 0;
  const u128 wanted = u128{requested} + usable_extent(config_.arch);
  return round_up(std::min<u128>(config_.region_size, wanted), config_.block_size);
}

bool ReferenceModel::in_usable(uint64_t gpa, uint64_t size) const {
  const u128 start = gpa;
  const u128 end = u128{gpa} + size;
  return gpa % config_.block_size == 0 && size != 0 && end <= UINT64_MAX &&
         start >= *config_.addr && end <= u128{*config_.addr} + usable_;
}

bool ReferenceModel::slot_has_plugged(uint64_t slot) const { return plugged_in_slot_[slot] > 0; }

bool ReferenceModel::slot_wanted(uint64_t slot) const {
  switch (rule_) {
    case Rule::Whole: return true;
    case Rule::Usable: return slot * slot_size_ < usable_;
    case Rule::Plugged: return slot_has_plugged(slot);
  }
  return true;
}

bool ReferenceModel::beyond_phys(uint64_t slot) const {
  const u128 end = *config_.addr + std::min<u128>(u128{slot + 1} * slot_size_, config_.region_size);
  return end > phys_end_;
}

bool ReferenceModel::maps_beyond_phys() const {
  for (uint64_t slot = 0; slot < slot_count_; ++slot) {
    if (mapped_[slot] && beyond_phys(slot)) return true;
  }
  return false;
}

std::vector<uint64_t> ReferenceModel::slots_of(uint64_t offset, uint64_t size) const {
  std::vector<uint64_t> slots;
  // Slots before the one holding byte `offset` end at or before it; slots
  // are in address order, so the first one starting past the range ends it.
  for (uint64_t slot = offset / slot_size_; slot < slot_count_; ++slot) {
    const u128 start = u128{slot} * slot_size_;
    if (start >= u128{offset} + size) break;
    const u128 end = std::min<u128>(start + slot_size_, config_.region_size);
    if (start < u128{offset} + size && offset < end) slots.push_back(slot);
  }
  return slots;
}

std::vector<uint64_t> ReferenceModel::all_slots() const { return slots_of(0, config_.region_size); }

bool ReferenceModel::fails(FaultKind kind) {
  auto& armed = armed_[static_cast<size_t>(kind)];
  if (!armed) return false;
  if (*armed > 0) {
    --*armed;
    return false;
  }
  armed.reset();
  return true;
}

bool ReferenceModel::sync_slots(const std::vector<uint64_t>& slots, bool map_every_slot) {
  uint64_t maps = 0;
  uint64_t unmaps = 0;
  bool maps_beyond_phys = false;
  for (uint64_t slot : slots) {
    const bool wanted = map_every_slot || slot_wanted(slot);
    if (!mapped_[slot] && wanted) {
      ++maps;
      maps_beyond_phys = maps_beyond_phys || beyond_phys(slot);
    }
    if (mapped_[slot] && !wanted) ++unmaps;
  }
  if (maps > 0 && fails(FaultKind::Map)) return false;
  // The batch unmaps first, so its unmaps free ids for its maps.
  if (maps > 0 && maps > free_memslots_ + unmaps) return false;
  if (maps_beyond_phys) return false;
  for (uint64_t slot : slots) mapped_[slot] = map_every_slot || slot_wanted(slot);
  return true;
}

std::optional<Response> ReferenceModel::raw_request(uint16_t raw_type, uint64_t addr, uint16_t nb_blocks,
                                                    uint64_t readable_bytes, uint64_t writable_bytes) {
  if (broken_) return std::nullopt;
  if (readable_bytes < 24 || writable_bytes < 10 || raw_type > 3) {
    broken_ = true;
    return std::nullopt;
  }
  return request({static_cast<RequestType>(raw_type), addr, nb_blocks});
}

std::optional<Response> ReferenceModel::request(const Request& r) {
  if (broken_) return std::nullopt;
  // 64-bit product, wrapping like the device.
  const uint64_t size = uint64_t{r.nb_blocks} * config_.block_size;
  switch (r.type) {
    case RequestType::Plug:
      if (!in_usable(r.addr, size)) return Response{ResponseType::Error};
      return plug(r.addr, size);
    case RequestType::Unplug:
      if (!in_usable(r.addr, size)) return Response{ResponseType::Error};
      return unplug(r.addr, size);
    case RequestType::UnplugAll: return unplug_all();
    case RequestType::State: {
      if (!in_usable(r.addr, size)) return Response{ResponseType::Error};
      uint64_t count = 0;
      const uint64_t first = (r.addr - *config_.addr) / config_.block_size;
      for (uint64_t b = first; b < first + size / config_.block_size; ++b) count += plugged_[b] ? 1 : 0;
      const uint64_t blocks = size / config_.block_size;
      return Response{ResponseType::Ack, count == blocks ? BlockState::Plugged
                                         : count == 0    ? BlockState::Unplugged
                                                         : BlockState::Mixed};
    }
  }
  return std::nullopt;
}

Response ReferenceModel::plug(uint64_t gpa, uint64_t size) {
  const uint64_t first = (gpa - *config_.addr) / config_.block_size;
  const uint64_t blocks = size / config_.block_size;
  const uint64_t plugged_bytes = plugged_blocks_ * config_.block_size;
  if (u128{plugged_bytes} + size > requested_) return {ResponseType::Nack};
  for (uint64_t b = first; b < first + blocks; ++b) {
    if (plugged_[b]) return {ResponseType::Error};
  }
  if (busy_) return {ResponseType::Busy};
  const auto touched = slots_of(gpa - *config_.addr, size);
  // Dynamic rules activate every touched slot before populating.
  bool failed = rule_ == Rule::Plugged ? !sync_slots(touched, true) : false;
  if (!failed && fails(FaultKind::Populate)) {
    sync_slots(touched, false);  // unmaps only, cannot fail
    failed = true;
  }
  if (failed) {
    // The rollback discards the range; when that fails too, the blocks keep what they held.
    if (!fails(FaultKind::Discard)) guest_data_.discard(gpa - *config_.addr, size);
    return {ResponseType::Busy};
  }
  for (uint64_t b = first; b < first + blocks; ++b) set_block(b, true);
  return {ResponseType::Ack};
}

Response ReferenceModel::unplug(uint64_t gpa, uint64_t size) {
  const uint64_t first = (gpa - *config_.addr) / config_.block_size;
  const uint64_t blocks = size / config_.block_size;
  for (uint64_t b = first; b < first + blocks; ++b) {
    if (!plugged_[b]) return {ResponseType::Error};
  }
  if (busy_) return {ResponseType::Busy};
  if (fails(FaultKind::Discard)) return {ResponseType::Busy};
  guest_data_.discard(gpa - *config_.addr, size);
  for (uint64_t b = first; b < first + blocks; ++b) set_block(b, false);
  sync_slots(slots_of(gpa - *config_.addr, size), false);
  return {ResponseType::Ack};
}

Response ReferenceModel::unplug_all() {
  if (plugged_blocks_ > 0) {
    if (busy_) return {ResponseType::Busy};
    if (fails(FaultKind::Discard)) return {ResponseType::Busy};
    guest_data_.discard_all();  // the whole region, beyond the usable one too
    std::fill(plugged_.begin(), plugged_.end(), 0);
    plugged_blocks_ = 0;
    std::fill(plugged_in_slot_.begin(), plugged_in_slot_.end(), 0);
  }
  usable_ = usable_for(requested_);  // may shrink
  sync_slots(all_slots(), false);
  return {ResponseType::Ack};
}

bool ReferenceModel::resize(uint64_t requested) {
  if (requested % config_.block_size != 0 || requested > config_.region_size) return false;
  const uint64_t old_usable = usable_;
  usable_ = std::max(usable_, usable_for(requested));  // grows only
  if (!sync_slots(all_slots(), false)) {
    usable_ = old_usable;
    return false;
  }
  requested_ = requested;
  return true;
}

void ReferenceModel::restore(const ReferenceModel& source) {
  broken_ = source.broken_;
  plugged_ = source.plugged_;
  count_plugged();
  usable_ = source.usable_;
  requested_ = source.requested_;
  for (uint64_t slot = 0; slot < slot_count_; ++slot) mapped_[slot] = slot_wanted(slot);
  guest_data_ = source.guest_data_;
  guest_data_.discard_where([&](uint64_t offset) { return !plugged_[offset / config_.block_size]; });
}

void ReferenceModel::system_reset() {
  broken_ = false;
  (void)unplug_all();
}

uint64_t ReferenceModel::mapped_metadata(bool tdp_mmu, bool dirty_logging) const {
  uint64_t bytes = 0;
  for (uint64_t slot = 0; slot < slot_count_; ++slot) {
    if (!mapped_[slot]) continue;
    const u128 start = u128{slot} * slot_size_;
    const uint64_t size = static_cast<uint64_t>(std::min<u128>(slot_size_, config_.region_size - start));
    bytes += reference_slot_metadata(*config_.addr + static_cast<uint64_t>(start), size, tdp_mmu, dirty_logging);
  }
  return bytes;
}

ConfigSpace ReferenceModel::config_space() const {
  return {config_.block_size, config_.node, *config_.addr, config_.region_size, usable_,
          plugged_blocks_ * config_.block_size, requested_};
}

}  // namespace vmemcheck
