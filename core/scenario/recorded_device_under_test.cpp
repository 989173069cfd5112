#include "recorded_device_under_test.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace vmemcheck::scenario {

Result<ChainAnswer> parse_recorded_answer(std::string_view text, bool state_request) {
  for (const ResponseType type : {ResponseType::Ack, ResponseType::Nack, ResponseType::Busy, ResponseType::Error}) {
    if (!text.starts_with(name(type))) continue;
    std::string_view rest = text.substr(name(type).size());
    Response response{type, BlockState::Plugged};
    const bool shows_state = state_request && type == ResponseType::Ack;
    if (shows_state) {
      constexpr std::array kStates{BlockState::Plugged, BlockState::Unplugged, BlockState::Mixed};
      const auto state = std::ranges::find_if(kStates, [&](BlockState s) { return rest == fmt::format(" {}", name(s)); });
      if (state == kStates.end()) break;
      response.state = *state;
    } else if (!rest.empty()) {
      break;
    }
    return ChainAnswer{response, shows_state, static_cast<uint32_t>(kResponseSize)};
  }
  return Error{fmt::format("'{}' is not a recorded answer", text)};
}

std::optional<std::string> RecordedDeviceUnderTest::unsupported(const Op& op, const FirstDevice*) const {
  if (std::holds_alternative<ConfigureMachine>(op) || std::holds_alternative<AddDevice>(op) ||
      std::holds_alternative<GuestRequest>(op) || std::holds_alternative<Resize>(op) ||
      std::holds_alternative<SystemReset>(op) || std::holds_alternative<Checkpoint>(op) ||
      std::holds_alternative<Migrate>(op)) {
    return std::nullopt;
  }
  return "not in a recording: a guest's QEMU is recorded through requests, resizes, resets, migrations and checkpoints";
}

Result<const Step*> RecordedDeviceUnderTest::recorded(const Step& step) {
  for (size_t i = next_; i < recording_.steps.size(); ++i) {
    if (recording_.steps[i].op != step.op) continue;
    next_ = i + 1;
    return &recording_.steps[i];
  }
  return Error{fmt::format("the recording has no step '{}' after its step {}", to_text(step.op), next_)};
}

Result<Outcome> RecordedDeviceUnderTest::apply(const Step& step, const FirstDevice*) {
  auto found = recorded(step);
  if (!found) return found.error();
  checkpoint_.reset();
  if (const auto* add = std::get_if<AddDevice>(&step.op)) devices_[add->config.id] = add->config;
  if (const auto* c = std::get_if<Checkpoint>(&step.op)) {
    checkpoint_ = *c;
    ++checkpoints_;
  }
  const auto* request = std::get_if<GuestRequest>(&step.op);
  if (!request) return Outcome::ok();
  if (!(*found)->expected) return Error{fmt::format("the recording's '{}' has no answer", to_text(step.op))};
  auto answer = parse_recorded_answer(*(*found)->expected, request->type == RequestType::State);
  if (!answer) return answer.error();
  Outcome outcome{Outcome::Kind::Answered};
  outcome.answers.push_back(*answer);
  return outcome;
}

Result<std::optional<DeviceSnapshot>> RecordedDeviceUnderTest::snapshot(const std::string& id) {
  const auto device = devices_.find(id);
  if (!checkpoint_ || checkpoint_->device != id || device == devices_.end()) return std::optional<DeviceSnapshot>();
  const DeviceConfig& d = device->second;
  DeviceSnapshot s;
  s.config = ConfigSpace{d.block_size, d.node, d.addr.value_or(0), d.region_size, checkpoint_->usable,
                         checkpoint_->plugged, checkpoint_->requested};
  s.memory = checkpoint_->regions;
  s.memdev = d.memdev;
  return std::optional<DeviceSnapshot>(std::move(s));
}

std::vector<std::string> RecordedDeviceUnderTest::notes() const {
  return {fmt::format("recorded QEMU: config and memslot listing compared at its {} checkpoints, answers at every "
                      "request; features and status were not recorded", checkpoints_)};
}

}  // namespace vmemcheck::scenario
