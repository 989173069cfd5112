#include "guest_recording.hpp"

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

  const GuestRecording& recording_;
  RecordingCounts& counts_;
  std::vector<scenario::Step> steps_;
  std::optional<scenario::GuestRequest> open_;  // a request QEMU has not answered yet
  std::optional<uint16_t> state_;               // the open STATE request's state
  uint64_t usable_ = 0;                         // QEMU's usable region, as last traced
};

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
  const std::string& id = recording_.device.id;
  const auto request = [&](RequestType type) -> Status {
    if (open_) return Error{fmt::format("'{}' got no response before the next request", scenario::to_text(*open_))};
    ++counts_.requests;
    open_ = scenario::GuestRequest{id, type, {e.addr, false}, e.nb_blocks};
    return ok_status();
  };
  switch (e.kind) {
    case Kind::PlugRequest: return request(RequestType::Plug);
    case Kind::UnplugRequest: return request(RequestType::Unplug);
    case Kind::StateRequest: return request(RequestType::State);
    case Kind::UnplugAllRequest: return request(RequestType::UnplugAll);
    case Kind::StateResponse: state_ = e.value; return ok_status();
    case Kind::Response: return answer(e);
    case Kind::ResizedUsable: usable_ = e.size; return ok_status();
    case Kind::UnpluggedAll:
      // Inside an UNPLUG_ALL request it is that request's work; otherwise a system reset did it.
      if (open_ && open_->type == RequestType::UnplugAll) return ok_status();
      if (open_) return Error{fmt::format("a system reset while '{}' was open", scenario::to_text(*open_))};
      ++counts_.resets;
      add(scenario::SystemReset{});
      return ok_status();
  }
  return ok_status();
}

void Conversion::mark(const RecordingMark& m) {
  const std::string& id = recording_.device.id;
  if (const auto* resize = std::get_if<RecordedResize>(&m.what)) {
    ++counts_.resizes;
    add(scenario::Resize{id, resize->requested});
    return;
  }
  const auto& c = std::get<RecordedCheckpoint>(m.what);
  ++counts_.checkpoints;
  add(scenario::Checkpoint{id, c.plugged, c.requested, usable_, c.regions});
}

Result<scenario::Scenario> Conversion::run() {
  scenario::ConfigureMachine machine;
  machine.machine = recording_.machine;
  add(machine);
  add(scenario::AddDevice{recording_.device});
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
