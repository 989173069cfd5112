#include "guest_driver.hpp"

#include <algorithm>

namespace vmemcheck {

void GuestDriver::boot() {
  blocks_.clear();
  plugged_ = 0;
  backoff_ = 0;
  next_backoff_ = 1;
  unplug_all_pending_ = true;  // sent only if the device reports plugged memory
}

GuestDriver::Geometry GuestDriver::geometry(const ConfigSpace& config) const {
  Geometry g;
  g.block_size = config.block_size;
  const bool big_blocks = config.block_size >= options_.memory_block_size;
  g.group_size = big_blocks ? config.block_size : options_.memory_block_size;
  g.unit = big_blocks ? config.block_size : std::max(config.block_size, options_.pageblock_size);
  g.units_per_group = g.group_size / g.unit;
  g.first_group = (config.addr + g.group_size - 1) / g.group_size;
  g.end_group = (config.addr + std::min(config.usable_region_size, config.region_size)) / g.group_size;
  return g;
}

bool GuestDriver::send(DriverPort& port, RequestType type, uint64_t addr, uint64_t units, const Geometry& g) {
  const Request request{type, addr, static_cast<uint16_t>(units * g.unit / g.block_size)};
  --budget_;
  ++stats_.requests;
  const auto response = port.send(request);
  if (!response) {
    ++stats_.errors;
    budget_ = 0;
    return false;
  }
  switch (response->type) {
    case ResponseType::Ack: ++stats_.acks; backoff_ = 0; next_backoff_ = 1; return true;
    case ResponseType::Nack: ++stats_.nacks; break;
    case ResponseType::Busy:
      ++stats_.busy;
      backoff_ = next_backoff_;
      next_backoff_ = std::min(next_backoff_ * 2, options_.max_backoff_ticks);
      break;
    case ResponseType::Error: ++stats_.errors; break;
  }
  budget_ = 0;
  return false;
}

void GuestDriver::tick(DriverPort& port) {
  if (backoff_ > 0) {
    --backoff_;
    return;
  }
  budget_ = options_.requests_per_tick;
  const ConfigSpace config = port.config();
  const Geometry g = geometry(config);
  if (unplug_all_pending_) {
    if (config.plugged_size != 0) {
      if (!send(port, RequestType::UnplugAll, 0, 0, g)) return;
      blocks_.clear();
      plugged_ = 0;
    }
    unplug_all_pending_ = false;
  }
  if (config.requested_size > plugged_) plug(port, g, (config.requested_size - plugged_) / g.unit);
  else if (plugged_ > config.requested_size) unplug(port, g, (plugged_ - config.requested_size) / g.unit);
}

void GuestDriver::plug(DriverPort& port, const Geometry& g, uint64_t units) {
  // First the unplugged units of memory blocks already added, lowest first.
  for (auto& [group, plugged] : blocks_) {
    for (uint64_t i = 0; i < g.units_per_group && units > 0 && budget_ > 0;) {
      if (plugged[i]) {
        ++i;
        continue;
      }
      uint64_t run = 0;
      while (i + run < g.units_per_group && !plugged[i + run] && run < units) ++run;
      if (!send(port, RequestType::Plug, group * g.group_size + i * g.unit, run, g)) return;
      std::fill_n(plugged.begin() + static_cast<long>(i), run, true);
      plugged_ += run * g.unit;
      units -= run;
      i += run;
    }
  }
  // Then new memory blocks wholly inside the usable region, lowest first.
  for (uint64_t group = g.first_group; group < g.end_group && units > 0 && budget_ > 0; ++group) {
    if (blocks_.contains(group)) continue;
    const uint64_t run = std::min(units, g.units_per_group);
    if (!send(port, RequestType::Plug, group * g.group_size, run, g)) return;
    std::vector<bool> plugged(g.units_per_group, false);
    std::fill_n(plugged.begin(), run, true);
    blocks_.emplace(group, std::move(plugged));
    plugged_ += run * g.unit;
    units -= run;
  }
}

void GuestDriver::unplug(DriverPort& port, const Geometry& g, uint64_t units) {
  // Highest memory blocks first, their highest units first; blocks the guest
  // cannot offline stay.
  for (auto it = blocks_.rbegin(); it != blocks_.rend() && units > 0 && budget_ > 0;) {
    const uint64_t group = it->first;
    std::vector<bool>& plugged = it->second;
    if (options_.unremovable && options_.unremovable(group * g.group_size / options_.memory_block_size)) {
      ++it;
      continue;
    }
    for (uint64_t end = g.units_per_group; end > 0 && units > 0 && budget_ > 0;) {
      if (!plugged[end - 1]) {
        --end;
        continue;
      }
      uint64_t run = 0;
      while (run < end && plugged[end - 1 - run] && run < units) ++run;
      if (!send(port, RequestType::Unplug, group * g.group_size + (end - run) * g.unit, run, g)) return;
      std::fill_n(plugged.begin() + static_cast<long>(end - run), run, false);
      plugged_ -= run * g.unit;
      units -= run;
      end -= run;
    }
    if (std::none_of(plugged.begin(), plugged.end(), [](bool b) { return b; })) {
      it = std::make_reverse_iterator(blocks_.erase(std::next(it).base()));
    } else {
      ++it;
    }
  }
}

}  // namespace vmemcheck
