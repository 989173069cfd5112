#include "guest_recording.hpp"

#include <deque>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "outcome.hpp"

namespace vmemcheck::qemu {
namespace {

using Kind = VirtioMemTraceEvent::Kind;

// Walks the events and marks, building steps; one request is open at a time
// (QEMU handles a virtqueue's requests one after another).
class Conversion {
 public:
  Conversion(const GuestRecording& recording, RecordingCounts& counts) : recording_(recording), counts_(counts) {}

  Result<scenario::Scenario> run();

 private:
  Status event(const VirtioMemTraceEvent& e);
  Status answer(const VirtioMemTraceEvent& response);
  void mark(const RecordingMark& m);
  void add(scenario::Op op, std::optional<std::string> expected = std::nullopt) {
    steps_.push_back({std::move(op), std::move(expected), static_cast<int>(steps_.size()) + 1});
  }

  // The device whose region holds `addr`. Error: none does.
  Result<std::string> owner(uint64_t addr) const;
  // Whose usable-region changes come next: every device's, in realize order (at start and at a reset).
  void all_devices_next() {
    usable_owners_.clear();
    for (const DeviceConfig& d : recording_.devices) usable_owners_.push_back(d.id);
  }
  Status usable_changed(uint64_t size);
  Status reset_traced();

  const GuestRecording& recording_;
  RecordingCounts& counts_;
  std::vector<scenario::Step> steps_;
  std::optional<scenario::GuestRequest> open_;  // a request QEMU has not answered yet
  std::optional<uint16_t> state_;               // the open STATE request's state
  std::map<std::string, uint64_t> usable_;      // per device, as last traced
  std::deque<std::string> usable_owners_;       // the devices the next usable-region changes belong to
  size_t reset_unplugs_left_ = 0;               // devices a traced reset has yet to unplug
};

Result<std::string> Conversion::owner(uint64_t addr) const {
  for (const DeviceConfig& d : recording_.devices) {
    if (addr >= d.addr.value_or(0) && addr - d.addr.value_or(0) < d.region_size) return d.id;
  }
  return Error{fmt::format("a request at {:#x}, in no device's region", addr)};
}

Status Conversion::usable_changed(uint64_t size) {
  if (usable_owners_.empty()) return Error{"a usable-region change with no realize, reset or resize to cause it"};
  usable_[usable_owners_.front()] = size;
  usable_owners_.pop_front();
  return ok_status();
}

// One reset traces an unplug-all per device: the first makes the "reset" step.
Status Conversion::reset_traced() {
  if (open_) return Error{fmt::format("a system reset while '{}' was open", scenario::to_text(*open_))};
  if (reset_unplugs_left_ > 0) {
    --reset_unplugs_left_;
    return ok_status();
  }
  ++counts_.resets;
  add(scenario::SystemReset{});
  all_devices_next();
  reset_unplugs_left_ = recording_.devices.size() - 1;
  return ok_status();
}

Status Conversion::answer(const VirtioMemTraceEvent& response) {
  ++counts_.responses;
  if (!open_) return Error{fmt::format("a response (type {}) to no request", response.value)};
  if (response.value > static_cast<uint16_t>(ResponseType::Error) ||
      state_.value_or(0) > static_cast<uint16_t>(BlockState::Mixed)) {
    return Error{fmt::format("an answer with no virtio-mem meaning: type {}, state {}", response.value, state_.value_or(0))};
  }
  const bool state_answer = open_->type == RequestType::State && response.value == 0;
  const scenario::ChainAnswer answer{Response{static_cast<ResponseType>(response.value),
                                              static_cast<BlockState>(state_.value_or(0))},
                                     state_answer, static_cast<uint32_t>(kResponseSize)};
  add(*open_, scenario::to_text(answer));
  open_.reset();
  state_.reset();
  return ok_status();
}

Status Conversion::event(const VirtioMemTraceEvent& e) {
  const auto request = [&](RequestType type) -> Status {
    if (open_) return Error{fmt::format("'{}' got no response before the next request", scenario::to_text(*open_))};
    // UNPLUG_ALL carries no address: only a single device owns it for sure.
    if (type == RequestType::UnplugAll && recording_.devices.size() != 1) {
      return Error{"an UNPLUG_ALL request, which names no device, with several devices"};
    }
    auto id = type == RequestType::UnplugAll ? Result<std::string>(recording_.devices[0].id) : owner(e.addr);
    if (!id) return id.error();
    ++counts_.requests;
    reset_unplugs_left_ = 0;
    open_ = scenario::GuestRequest{*id, type, {e.addr, false}, e.nb_blocks};
    return ok_status();
  };
  switch (e.kind) {
    case Kind::PlugRequest: return request(RequestType::Plug);
    case Kind::UnplugRequest: return request(RequestType::Unplug);
    case Kind::StateRequest: return request(RequestType::State);
    case Kind::UnplugAllRequest: return request(RequestType::UnplugAll);
    case Kind::StateResponse: state_ = e.value; return ok_status();
    case Kind::Response: return answer(e);
    case Kind::ResizedUsable: return usable_changed(e.size);
    case Kind::UnpluggedAll:
      // Inside an UNPLUG_ALL request it is that request's work; otherwise a system reset did it.
      if (open_ && open_->type == RequestType::UnplugAll) return ok_status();
      return reset_traced();
  }
  return ok_status();
}

void Conversion::mark(const RecordingMark& m) {
  reset_unplugs_left_ = 0;
  if (const auto* resize = std::get_if<RecordedResize>(&m.what)) {
    ++counts_.resizes;
    add(scenario::Resize{resize->device, resize->requested});
    usable_owners_.assign(1, resize->device);
    return;
  }
  if (const auto* migration = std::get_if<RecordedMigration>(&m.what)) {
    // The whole VM migrates: each device to its counterpart on the destination.
    ++counts_.migrations;
    for (const DeviceConfig& d : recording_.devices) {
      add(scenario::Migrate{d.id, {{"mode", migration->mode}}});
    }
    return;
  }
  const auto& c = std::get<RecordedCheckpoint>(m.what);
  ++counts_.checkpoints;
  add(scenario::Checkpoint{c.device, c.plugged, c.requested, usable_[c.device], c.regions});
}

Result<scenario::Scenario> Conversion::run() {
  scenario::ConfigureMachine machine;
  machine.machine = recording_.machine;
  add(machine);
  for (const DeviceConfig& device : recording_.devices) add(scenario::AddDevice{device});
  all_devices_next();
  size_t next_mark = 0;
  const auto& marks = recording_.marks;
  for (size_t i = 0; i <= recording_.events.size(); ++i) {
    while (next_mark < marks.size() && marks[next_mark].events_before <= i) {
      if (open_) return Error{fmt::format("the harness marked a step while '{}' was open", scenario::to_text(*open_))};
      mark(marks[next_mark++]);
    }
    if (i == recording_.events.size()) break;
    if (auto done = event(recording_.events[i]); !done) {
      return Error{fmt::format("trace event {}: {}", i + 1, done.error().message)};
    }
  }
  if (open_) return Error{fmt::format("'{}' got no response before the recording ended", scenario::to_text(*open_))};
  return scenario::Scenario{"<guest recording>", std::move(steps_)};
}

}  // namespace

Result<scenario::Scenario> to_scenario(const GuestRecording& recording, RecordingCounts& counts) {
  return Conversion(recording, counts).run();
}

std::set<uint64_t> plugged_blocks(const std::vector<VirtioMemTraceEvent>& events, size_t count, uint64_t block_size) {
  std::set<uint64_t> plugged;
  const VirtioMemTraceEvent* open = nullptr;  // the plug or unplug request being answered
  for (size_t i = 0; i < count && i < events.size(); ++i) {
    const VirtioMemTraceEvent& e = events[i];
    if (e.kind == Kind::PlugRequest || e.kind == Kind::UnplugRequest) open = &e;
    if (e.kind == Kind::UnpluggedAll) plugged.clear();
    if (e.kind != Kind::Response || !open) continue;
    for (uint64_t b = 0; e.value == 0 && b < open->nb_blocks; ++b) {
      const uint64_t addr = open->addr + b * block_size;
      if (open->kind == Kind::PlugRequest) plugged.insert(addr);
      else plugged.erase(addr);
    }
    open = nullptr;
  }
  return plugged;
}

}  // namespace vmemcheck::qemu
