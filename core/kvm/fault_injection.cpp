#include "fault_injection.hpp"

#include <fmt/format.h>

namespace vmemcheck {

bool FaultInjectingBackend::fire(FaultKind kind, DeviceHandle device) {
  for (const auto& key : {std::pair{kind, std::optional<DeviceHandle>(device)},
                         std::pair{kind, std::optional<DeviceHandle>()}}) {
    const auto it = armed_.find(key);
    if (it == armed_.end()) continue;
    if (it->second > 0) {
      --it->second;
      return false;
    }
    armed_.erase(it);
    ++injected_;
    return true;
  }
  return false;
}

Status FaultInjectingBackend::attach(DeviceHandle device, uint64_t region_size) {
  if (fire(FaultKind::Attach, device)) return Error{"injected fault: attach", ErrorCode::InjectedFault};
  return inner_.attach(device, region_size);
}

Status FaultInjectingBackend::apply(const SlotTransaction& transaction) {
  if (!transaction.map.empty() && fire(FaultKind::Map, transaction.map.front().device)) {
    return Error{fmt::format("injected fault: map of {} memslot(s)", transaction.map.size()), ErrorCode::InjectedFault};
  }
  return inner_.apply(transaction);
}

Status FaultInjectingBackend::discard(DeviceHandle device, uint64_t offset, uint64_t size) {
  if (fire(FaultKind::Discard, device)) return Error{"injected fault: discard", ErrorCode::InjectedFault};
  return inner_.discard(device, offset, size);
}

Status FaultInjectingBackend::populate(DeviceHandle device, uint64_t offset, uint64_t size) {
  if (fire(FaultKind::Populate, device)) return Error{"injected fault: populate", ErrorCode::InjectedFault};
  return inner_.populate(device, offset, size);
}

std::string_view name(FaultKind kind) {
  switch (kind) {
    case FaultKind::Map: return "map";
    case FaultKind::Populate: return "populate";
    case FaultKind::Discard: return "discard";
    case FaultKind::Attach: return "attach";
  }
  return "?";
}

std::optional<FaultKind> parse_fault_kind(std::string_view text) {
  for (auto kind : {FaultKind::Map, FaultKind::Populate, FaultKind::Discard, FaultKind::Attach}) {
    if (name(kind) == text) return kind;
  }
  return std::nullopt;
}

}  // namespace vmemcheck
