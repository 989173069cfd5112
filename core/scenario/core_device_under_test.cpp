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
  s.management = management_view(*d, *runner_.machine());
  return std::optional<DeviceSnapshot>(std::move(s));
}

ManagementView management_view(const VirtioMemDevice& device, const Machine& machine) {
  const ConfigSpace c = device.config_space();
  ManagementView v;
  v.id = device.config().id;
  v.memdev = memdev_name(device);
  v.memaddr = c.addr;
  v.max_size = c.region_size;
  v.block_size = v.device_block_size = c.block_size;
  v.size = v.device_size = v.proxy_size = c.plugged_size;
  v.requested_size = v.device_requested_size = v.proxy_requested_size = c.requested_size;
  v.node = device.config().node;
  for (const VirtioMemDevice* other : machine.devices()) v.machine_plugged += other->config_space().plugged_size;
  return v;
}

std::vector<uint64_t> memslot_decision(const VirtioMemDevice& device) {
  std::vector<uint64_t> sizes;
  if (device.config().mode == MemslotMode::Static) return sizes;
  for (uint64_t i = 0; i < device.layout().count; ++i) sizes.push_back(device.layout().length(i));
  return sizes;
}

}  // namespace vmemcheck::scenario
