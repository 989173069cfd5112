#include "planted_difference.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vmemcheck::scenario {

Result<Outcome> PlantedDifference::apply(const Step& step, const FirstDevice* first) {
  auto outcome = core_.apply(step, first);
  if (!outcome || plant_ != Plant::Response) return outcome;
  for (ChainAnswer& answer : outcome->answers) {
    if (answer.state_request && answer.response && answer.response->type == ResponseType::Ack &&
        answer.response->state == BlockState::Unplugged) {
      answer.response->state = BlockState::Plugged;
    }
  }
  return outcome;
}

Result<std::optional<DeviceSnapshot>> PlantedDifference::snapshot(const std::string& id) {
  auto snapshot = core_.snapshot(id);
  if (!snapshot || !*snapshot || plant_ != Plant::Memslot) return snapshot;
  const VirtioMemDevice& device = *core_.runner().machine()->find(id);
  const auto& mapped = device.mapped_flags();
  const auto unmapped = std::find(mapped.begin(), mapped.end(), 0);
  const bool any = std::find(mapped.begin(), mapped.end(), 1) != mapped.end();
  if (device.config().mode == MemslotMode::Static || !any || unmapped == mapped.end()) return snapshot;
  // The alias device_regions() would list if that memslot were mapped, in address order.
  const uint64_t index = static_cast<uint64_t>(unmapped - mapped.begin());
  std::vector<MtreeRegion>& memory = *(*snapshot)->memory;
  const MtreeRegion& sample = *std::find_if(memory.begin(), memory.end(), [](const MtreeRegion& r) { return r.alias; });
  const SlotMapping s = device.slot(index);
  MtreeRegion planted = sample;
  planted.start = s.gpa;
  planted.last = s.gpa + s.size - 1;
  planted.name = fmt::format("{}{}", sample.name.substr(0, sample.name.find_last_not_of("0123456789") + 1), index);
  planted.alias->offset = s.backing_offset;
  planted.alias->last = s.backing_offset + s.size - 1;
  const auto at = std::find_if(memory.begin() + 1, memory.end(), [&](const MtreeRegion& r) { return r.start > planted.start; });
  memory.insert(at, std::move(planted));
  return snapshot;
}

}  // namespace vmemcheck::scenario
