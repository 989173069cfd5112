#include "core_device_under_test.hpp"

#include "device_config.hpp"

namespace vmemcheck::scenario {

Result<Outcome> CoreDeviceUnderTest::apply(const Step& step, const FirstDevice*) {
  StepReport report = runner_.step(step);
  problems_ = std::move(report.problems);
  output_ = std::move(report.output);
  return std::move(report.outcome);
}

Result<std::optional<DeviceSnapshot>> CoreDeviceUnderTest::snapshot(const std::string& id) {
  const VirtioMemDevice* d = runner_.machine() ? runner_.machine()->find(id) : nullptr;
  if (!d) return std::optional<DeviceSnapshot>();
  DeviceSnapshot s;
  s.config = d->config_space();
  s.needs_reset = d->needs_reset();
  s.offered_features = offered_features(d->config());
  // What a driver accepts by default (and QEMU's test driver after every op).
  s.accepted_features = *s.offered_features & (kFeatureAcpiPxm | kFeatureUnpluggedInaccessible);
  s.decision = memslot_decision(*d);
  s.memory = device_regions(*d);
  s.memdev = memdev_name(*d);
  return std::optional<DeviceSnapshot>(std::move(s));
}

std::vector<uint64_t> memslot_decision(const VirtioMemDevice& device) {
  std::vector<uint64_t> sizes;
  if (device.config().mode == MemslotMode::Static) return sizes;
  for (uint64_t i = 0; i < device.layout().count; ++i) sizes.push_back(device.layout().length(i));
  return sizes;
}

}  // namespace vmemcheck::scenario
