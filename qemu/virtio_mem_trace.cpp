#include "virtio_mem_trace.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

using Kind = VirtioMemTraceEvent::Kind;

struct EventName {
  std::string_view name;
  Kind kind;
};
constexpr EventName kEvents[] = {
    {"virtio_mem_plug_request", Kind::PlugRequest},
    {"virtio_mem_unplug_request", Kind::UnplugRequest},
    {"virtio_mem_state_request", Kind::StateRequest},
    {"virtio_mem_unplug_all_request", Kind::UnplugAllRequest},
    {"virtio_mem_state_response", Kind::StateResponse},
    {"virtio_mem_send_response", Kind::Response},
    {"virtio_mem_unplugged_all", Kind::UnpluggedAll},
    {"virtio_mem_resized_usable_region", Kind::ResizedUsable},
};

// The number after "KEY=" in the event's arguments ("0x..." hex, else
// decimal). QEMU prints "old_size=0x0new_size=0x..." with no space between.
std::optional<uint64_t> field(std::string_view args, std::string_view key) {
  const auto at = args.find(std::string(key) + "=");
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view digits = args.substr(at + key.size() + 1);
  int base = 10;
  if (digits.starts_with("0x")) {
    base = 16;
    digits.remove_prefix(2);
  }
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value, base);
  if (error != std::errc() || end == digits.data()) return std::nullopt;
  return value;
}

Result<VirtioMemTraceEvent> parse_event(Kind kind, std::string_view args) {
  VirtioMemTraceEvent e{kind};
  const auto need = [&](std::string_view key) -> Result<uint64_t> {
    if (auto value = field(args, key)) return *value;
    return Error{fmt::format("no {}= in '{}'", key, args)};
  };
  const auto read = [&](auto& target, std::string_view key) -> Status {
    auto value = need(key);
    if (!value) return value.error();
    target = static_cast<std::remove_reference_t<decltype(target)>>(*value);
    return ok_status();
  };
  Status status = ok_status();
  switch (kind) {
    case Kind::PlugRequest:
    case Kind::UnplugRequest:
    case Kind::StateRequest:
      if (status = read(e.addr, "addr"); status) status = read(e.nb_blocks, "nb_blocks");
      break;
    case Kind::StateResponse: status = read(e.value, "state"); break;
    case Kind::Response: status = read(e.value, "type"); break;
    case Kind::ResizedUsable: status = read(e.size, "new_size"); break;
    case Kind::UnplugAllRequest:
    case Kind::UnpluggedAll: break;
  }
  if (!status) return status.error();
  return e;
}

}  // namespace

Result<std::vector<VirtioMemTraceEvent>> parse_virtio_mem_trace(std::string_view text) {
  std::vector<VirtioMemTraceEvent> events;
  size_t number = 0;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    ++number;
    const auto name_at = line.find("virtio_mem_");
    if (name_at == std::string_view::npos) continue;
    line.remove_prefix(name_at);
    const std::string_view name = line.substr(0, line.find(' '));
    const auto* known = std::find_if(std::begin(kEvents), std::end(kEvents), [&](const EventName& e) { return e.name == name; });
    if (known == std::end(kEvents)) return Error{fmt::format("trace line {}: unknown event '{}'", number, name)};
    auto event = parse_event(known->kind, line.substr(name.size()));
    if (!event) return Error{fmt::format("trace line {}: {}", number, event.error().message)};
    events.push_back(*event);
  }
  return events;
}

}  // namespace vmemcheck::qemu
