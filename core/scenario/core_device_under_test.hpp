// The core as a device under test: a scenario::Runner (a Machine over the
// shadow KVM or real KVM) that checks itself against the reference model
// and DESIGN §3's invariants on every step; its problems are the loop's.
#pragma once

#include <string>
#include <vector>

#include "device_under_test.hpp"
#include "scenario_runner.hpp"

namespace vmemcheck::scenario {

class CoreDeviceUnderTest final : public DeviceUnderTest {
 public:
  explicit CoreDeviceUnderTest(RunOptions options = {}) : runner_(options) {}

  std::string label() const override { return "vmemcheck"; }
  std::optional<std::string> unsupported(const Op&, const FirstDevice*) const override { return std::nullopt; }
  Result<Outcome> apply(const Step& step, const FirstDevice* first = nullptr) override;
  std::vector<std::string> take_problems() override { return std::exchange(problems_, {}); }
  std::string take_output() override { return std::exchange(output_, {}); }
  Result<std::optional<DeviceSnapshot>> snapshot(const std::string& id) override;

  const Runner& runner() const { return runner_; }

 private:
  Runner runner_;
  std::vector<std::string> problems_;
  std::string output_;
};

// The core's memslot decision in QEMU's terms: a static device's backend is
// mapped whole and has no memslot children, which QEMU creates only with
// dynamic-memslots; otherwise every memslot's size by index.
std::vector<uint64_t> memslot_decision(const VirtioMemDevice& device);
// The core's answers to what QEMU's management interface shows of a device
// (ManagementView): its config, and the plugged memory of every device of
// its machine.
ManagementView management_view(const VirtioMemDevice& device, const Machine& machine);

}  // namespace vmemcheck::scenario
