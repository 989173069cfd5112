// A recorded device under test: a real guest's QEMU, as a recording shows it
// (qemu/guest_recording.hpp writes one from QEMU's virtio_mem_* trace and its
// QMP answers). The recording is a scenario: each guest request carries
// QEMU's answer as its "=> OUTCOME", and each "checkpoint" line what QEMU
// showed of the device (config fields, info mtree regions) at that moment.
// Replayed beside the core through run_compared(), every answer is compared
// with the core's, and at every checkpoint the config and memslot listing:
// the recording answers what QEMU answered, in the same order.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "device_under_test.hpp"
#include "scenario.hpp"

namespace vmemcheck::scenario {

class RecordedDeviceUnderTest final : public DeviceUnderTest {
 public:
  explicit RecordedDeviceUnderTest(Scenario recording) : recording_(std::move(recording)) {}

  std::string label() const override { return "QEMU (recorded)"; }
  std::optional<std::string> unsupported(const Op& op, const FirstDevice* first) const override;
  // Error: the step is not the recording's next one, or its recorded answer is unreadable.
  Result<Outcome> apply(const Step& step, const FirstDevice* first) override;
  // The device only right after its checkpoint: the recording saw nothing between.
  Result<std::optional<DeviceSnapshot>> snapshot(const std::string& id) override;
  std::vector<std::string> notes() const override;

 private:
  // The recording's step that `step` replays: the next one holding its op.
  Result<const Step*> recorded(const Step& step);

  Scenario recording_;
  size_t next_ = 0;
  std::map<std::string, DeviceConfig> devices_;  // as their device lines gave QEMU's properties
  std::optional<Checkpoint> checkpoint_;         // the last step's, if it was one
  size_t checkpoints_ = 0;
};

// QEMU's answer as a recording writes it ("ACK", "NACK", "ACK MIXED"), read
// back with the names to_text() uses. Error: not such an answer.
Result<ChainAnswer> parse_recorded_answer(std::string_view text, bool state_request);

}  // namespace vmemcheck::scenario
