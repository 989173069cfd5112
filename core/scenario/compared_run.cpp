#include "compared_run.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "units.hpp"

namespace vmemcheck::scenario {
namespace {

// The op's kind, as the skip statistics name it: its first word.
std::string kind_of(const Op& op) {
  const std::string text = to_text(op);
  return text.substr(0, text.find(' '));
}

// The device an op adds or migrates: where the first device under test put it.
std::optional<std::string> placed_device(const Op& op) {
  if (const auto* add = std::get_if<AddDevice>(&op)) return add->config.id;
  if (const auto* migrate = std::get_if<Migrate>(&op)) return migrate->device;
  return std::nullopt;
}

// FNV-1a, continued over `text`.
void mix(uint64_t& digest, const std::string& text) {
  if (digest == 0) digest = 0xcbf29ce484222325;
  for (const char c : text) digest = (digest ^ static_cast<uint8_t>(c)) * 0x100000001b3;
  digest = (digest ^ '\n') * 0x100000001b3;
}

std::string config_text(const ConfigSpace& c) {
  return fmt::format("block={:#x} node={} addr={:#x} region={:#x} usable={:#x} plugged={:#x} requested={:#x}",
                     c.block_size, c.node_id, c.addr, c.region_size, c.usable_region_size, c.plugged_size,
                     c.requested_size);
}

std::string status_text(const DeviceSnapshot& s) {
  const std::string state = s.needs_reset ? "needs reset" : "running";
  return s.status && s.needs_reset ? fmt::format("{} (status {:#x})", state, *s.status & 0x40) : state;
}

// What an outcome difference is called, by the op it answered.
std::string what_differs(const Op& op) {
  if (std::holds_alternative<GuestRequest>(op) || std::holds_alternative<RawRequest>(op) ||
      std::holds_alternative<Kick>(op)) {
    return "response";
  }
  if (std::holds_alternative<AddDevice>(op)) return "device";
  if (std::holds_alternative<Resize>(op)) return "resize";
  if (std::holds_alternative<NegotiateFeatures>(op)) return "features";
  return "outcome";
}

std::string used_lengths(const Outcome& outcome) {
  std::string text;
  for (const ChainAnswer& a : outcome.answers) text += fmt::format("{}{}", text.empty() ? "" : ", ", a.used_length);
  return text;
}

bool same_responses(const Outcome& a, const Outcome& b) {
  return std::ranges::equal(a.answers, b.answers, [](const ChainAnswer& x, const ChainAnswer& y) {
    return x.response == y.response && x.state_request == y.state_request;
  });
}

struct Mismatch {
  std::string what, first, other;
};

std::optional<Mismatch> compare_outcomes(const Op& op, const Outcome& first, const Outcome& other) {
  if (!same_behaviour(first, other) || !same_responses(first, other)) {
    return Mismatch{what_differs(op), to_text(first), to_text(other)};
  }
  if (first.answers != other.answers) return Mismatch{"used length", used_lengths(first), used_lengths(other)};
  return std::nullopt;
}

std::optional<Mismatch> compare_snapshots(const DeviceSnapshot& a, const DeviceSnapshot& b) {
  if (a.config != b.config) return Mismatch{"config", config_text(a.config), config_text(b.config)};
  if (a.needs_reset != b.needs_reset) return Mismatch{"needs-reset", status_text(a), status_text(b)};
  if (a.offered_features && b.offered_features && *a.offered_features != *b.offered_features) {
    return Mismatch{"offered features", fmt::format("{:#x}", *a.offered_features),
                    fmt::format("{:#x}", *b.offered_features)};
  }
  if (a.accepted_features && b.accepted_features && *a.accepted_features != *b.accepted_features) {
    return Mismatch{"accepted features", fmt::format("{:#x}", *a.accepted_features),
                    fmt::format("{:#x}", *b.accepted_features)};
  }
  if (a.decision && b.decision && *a.decision != *b.decision) {
    return Mismatch{"memslot decision", decision_text(*a.decision), decision_text(*b.decision)};
  }
  if (a.management && b.management && *a.management != *b.management) {
    return Mismatch{"management view (query-memory-devices, qom-get)", to_text(*a.management), to_text(*b.management)};
  }
  if (a.memory && b.memory && *a.memory != *b.memory) {
    std::string first = to_text(*a.memory), other = to_text(*b.memory);
    first.pop_back();
    other.pop_back();
    return Mismatch{"memslots (info mtree)", first, other};
  }
  return std::nullopt;
}

std::string joined(const std::vector<std::string>& lines, const char* separator) {
  std::string text;
  for (const auto& line : lines) text += (text.empty() ? "" : separator) + line;
  return text;
}

// One run's state: the devices every device under test was asked to add.
class Loop {
 public:
  Loop(std::span<DeviceUnderTest* const> devices, const ComparedRunOptions& options)
      : devices_(devices), options_(options) {
    run_.tallies.resize(devices.size());
  }

  // Runs one step; false when the run ends with it.
  bool step(const Step& original, ComparedStep& report);
  // A scenario gets the default machine, as each device under test adapts
  // it, before its first op that needs one when no 'machine' line started
  // one (there was none, or the first device under test refused it).
  Status default_machine();
  ComparedRun finish() {
    for (DeviceUnderTest* dut : devices_) {
      for (auto& note : dut->notes()) run_.notes.push_back(std::move(note));
    }
    return std::move(run_);
  }

 private:
  void skip(const Op& op, std::string why, ComparedStep& report) {
    ++run_.skipped;
    ++run_.skipped_kinds[kind_of(op)];
    ++run_.skipped_reasons[why];
    report.skipped = std::move(why);
  }
  // Records a difference (the run's first is kept); false: the run ends.
  // A device under test could not be driven at this step: the run ends.
  bool fail(const ComparedStep& report, const Error& error) {
    run_.error = fmt::format("step {}: {}: {}", report.step + 1, report.op_text, error.message);
    run_.error_code = error.code;
    run_.error_step = report.step;
    return false;
  }
  bool differ(ComparedStep& report, size_t other, Mismatch mismatch) {
    Difference d{report.step, report.line, report.op_text, std::move(mismatch.what), devices_[0]->label(),
                 devices_[other]->label(), std::move(mismatch.first), std::move(mismatch.other)};
    report.problems.push_back(describe(d));
    if (!run_.difference) run_.difference = std::move(d);
    return !options_.stop_at_first_difference;
  }
  bool collect_problems(ComparedStep& report, size_t index);
  bool compare_devices(ComparedStep& report);

  std::span<DeviceUnderTest* const> devices_;
  ComparedRunOptions options_;
  ComparedRun run_;
  std::vector<std::string> known_;  // device ids added by the scenario, in order
  bool machine_started_ = false;
};

Status Loop::default_machine() {
  machine_started_ = true;
  Step step{ConfigureMachine{}, std::nullopt, 0};
  for (DeviceUnderTest* dut : devices_) step.op = dut->adapt(step.op);
  for (DeviceUnderTest* dut : devices_) {
    auto outcome = dut->apply(step, nullptr);
    if (!outcome) return outcome.error();
    (void)dut->take_output();
    if (auto problems = dut->take_problems(); !problems.empty()) return Error{"the default machine: " + problems[0]};
  }
  return ok_status();
}

// A device under test's own problems (the core's: its reference model, its
// invariants) are problems of the step; in a comparison they are its first
// difference, "core vs model".
bool Loop::collect_problems(ComparedStep& report, size_t index) {
  std::vector<std::string> found = devices_[index]->take_problems();
  if (found.empty()) return true;
  run_.problems += found.size();
  if (!run_.difference && devices_.size() > 1) {
    run_.difference = Difference{report.step, report.line, report.op_text, "core vs reference model",
                                 devices_[index]->label(), devices_[index == 0 ? 1 : 0]->label(),
                                 joined(found, "; "), "(not consulted)"};
  }
  for (auto& problem : found) report.problems.push_back(std::move(problem));
  return !options_.stop_at_first_difference;
}

bool Loop::compare_devices(ComparedStep& report) {
  for (const std::string& id : known_) {
    std::vector<DeviceSnapshot> snapshots;
    for (size_t i = 0; i < devices_.size(); ++i) {
      auto snapshot = devices_[i]->snapshot(id);
      if (!snapshot) return fail(report, snapshot.error());
      if (!*snapshot) break;
      DeviceTally& tally = run_.tallies[i];
      mix(tally.digest, config_text((*snapshot)->config));
      if ((*snapshot)->memory) mix(tally.digest, to_text(*(*snapshot)->memory));
      if ((*snapshot)->decision) tally.decision = decision_text(*(*snapshot)->decision);
      snapshots.push_back(std::move(**snapshot));
    }
    if (snapshots.size() != devices_.size()) continue;
    bool listed = false;
    for (size_t i = 1; i < snapshots.size(); ++i) {
      if (auto mismatch = compare_snapshots(snapshots[0], snapshots[i])) return differ(report, i, std::move(*mismatch));
      listed = listed || (snapshots[0].memory && snapshots[i].memory);
    }
    if (listed) ++run_.memslot_listings;
  }
  return true;
}

bool Loop::step(const Step& original, ComparedStep& report) {
  if (!machine_started_ && !std::holds_alternative<ConfigureMachine>(original.op)) {
    if (const Status started = default_machine(); !started) return fail(report, started.error());
  }
  Step step = original;
  if (!options_.check_expectations) step.expected.reset();
  for (DeviceUnderTest* dut : devices_) step.op = dut->adapt(step.op);
  for (DeviceUnderTest* dut : devices_) {
    if (auto why = dut->unsupported(step.op, nullptr)) {
      skip(step.op, std::move(*why), report);
      return true;
    }
  }
  std::vector<Outcome> outcomes;
  outcomes.reserve(devices_.size());  // `first` refers to outcomes[0]
  std::optional<FirstDevice> first;
  for (size_t i = 0; i < devices_.size(); ++i) {
    if (i == 1) {
      first.emplace(FirstDevice{outcomes[0], std::nullopt});
      if (const auto id = placed_device(step.op)) {
        auto device = devices_[0]->snapshot(*id);
        if (!device) return fail(report, device.error());
        first->device = std::move(*device);
      }
      for (size_t j = 1; j < devices_.size(); ++j) {
        if (auto why = devices_[j]->unsupported(step.op, &*first)) {
          skip(step.op, std::move(*why), report);
          return true;
        }
      }
    }
    auto outcome = devices_[i]->apply(step, i == 0 ? nullptr : &*first);
    if (!outcome) return fail(report, outcome.error());
    DeviceTally& tally = run_.tallies[i];
    mix(tally.digest, to_text(*outcome));
    for (const ChainAnswer& answer : outcome->answers) ++tally.answers[to_text(answer)];
    report.applied.push_back({devices_[i]->label(), *outcome});
    outcomes.push_back(std::move(*outcome));
    if (i == 0) report.output = devices_[0]->take_output();
    if (!collect_problems(report, i)) {
      ++run_.compared;
      return false;
    }
  }
  ++run_.compared;
  if (std::holds_alternative<ConfigureMachine>(step.op) && outcomes[0].is_ok()) machine_started_ = true;
  if (const auto* add = std::get_if<AddDevice>(&step.op); add && outcomes[0].is_ok()) {
    std::erase(known_, add->config.id);
    known_.push_back(add->config.id);
  }
  if (const auto* remove = std::get_if<RemoveDevice>(&step.op); remove && outcomes[0].is_ok()) {
    std::erase(known_, remove->device);
  }
  for (size_t i = 1; i < outcomes.size(); ++i) {
    if (auto mismatch = compare_outcomes(step.op, outcomes[0], outcomes[i])) return differ(report, i, std::move(*mismatch));
  }
  return devices_.size() == 1 || compare_devices(report);
}

}  // namespace

ComparedRun run_compared(const Scenario& scenario, std::span<DeviceUnderTest* const> devices,
                         const ComparedRunOptions& options, const std::function<void(const ComparedStep&)>& on_step) {
  Loop loop(devices, options);
  size_t steps = 0;
  for (size_t i = 0; i < scenario.steps.size(); ++i) {
    const Step& step = scenario.steps[i];
    ComparedStep report{i, step.line, to_text(step.op), {}, std::nullopt, {}, {}};
    const bool go_on = loop.step(step, report);
    ++steps;
    if (on_step) on_step(report);
    if (!go_on) break;
  }
  ComparedRun run = loop.finish();
  run.steps = steps;
  return run;
}

std::string decision_text(const std::vector<uint64_t>& sizes) {
  if (sizes.empty()) return "one memslot, the whole backend (no memslot-N children)";
  std::string text = fmt::format("{} memslot{} of {}", sizes.size(), sizes.size() == 1 ? "" : "s", format_size(sizes[0]));
  for (size_t i = 1; i < sizes.size(); ++i) {
    if (sizes[i] != sizes[0]) text += fmt::format(", memslot-{} {}", i, format_size(sizes[i]));
  }
  return text;
}

std::string describe(const Difference& d) {
  const std::string where = fmt::format("step {}{}: {}: {} difference", d.step + 1,
                                        d.line ? fmt::format(" (line {})", d.line) : "", d.op_text, d.what);
  if (d.first.find('\n') == std::string::npos && d.other.find('\n') == std::string::npos) {
    return fmt::format("{}: {} {}, {} {}", where, d.first_label, d.first, d.other_label, d.other);
  }
  const auto indented = [](const std::string& text) {
    std::string out;
    for (size_t start = 0; start <= text.size();) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      out += "\n    " + text.substr(start, end - start);
      start = end + 1;
    }
    return out;
  };
  return fmt::format("{}:\n  {}:{}\n  {}:{}", where, d.first_label, indented(d.first), d.other_label,
                     indented(d.other));
}

std::string to_text(const ManagementView& v) {
  return fmt::format("id={} memdev={} memaddr={:#x} max-size={:#x} block-size={:#x} size={:#x} requested-size={:#x} "
                     "node={}; qom: size={:#x} requested-size={:#x} block-size={:#x}; proxy: size={:#x} "
                     "requested-size={:#x}; machine plugged={:#x}",
                     v.id, v.memdev, v.memaddr, v.max_size, v.block_size, v.size, v.requested_size, v.node,
                     v.device_size, v.device_requested_size, v.device_block_size, v.proxy_size,
                     v.proxy_requested_size, v.machine_plugged);
}

}  // namespace vmemcheck::scenario
