#include "qemu_probe.hpp"

#include <fmt/format.h>

#include "virtio_mem_pci.hpp"

namespace vmemcheck::qemu {
namespace {

QemuGeometry probe_geometry() {
  QemuGeometry g;
  g.id = "probe0";
  g.memdev = "probe-mem0";
  g.region_size = 128 * MiB;
  return g;
}

QemuDeviceProfile profile_of(const VirtioMemPci& device, const std::map<std::string, std::string>& defaults) {
  QemuDeviceProfile profile;
  profile.offered_features = device.offered_features() & kDeviceFeatureBits;
  profile.dynamic_memslots = defaults.contains("dynamic-memslots");
  profile.ioeventfd = defaults.contains("ioeventfd");
  if (const auto found = defaults.find("unplugged-inaccessible"); found != defaults.end()) {
    profile.unplugged_inaccessible_default = found->second;
  }
  return profile;
}

}  // namespace

Result<ProbedQemu> probe_qemu(const std::string& binary) {
  const auto failed = [&](const Error& error) {
    return Error{fmt::format("probing QEMU {}: {}", binary, error.message), error.code};
  };
  // On a hotplug slot, to try device_del; a build without pcie-root-port
  // (a developer's minimal device list) refuses that machine: then without.
  QemuGeometry geometry = probe_geometry();
  geometry.hotplug_slot = true;
  auto device = VirtioMemPci::start(binary, geometry);
  if (!device && device.error().message.find("pcie-root-port") != std::string::npos) {
    geometry.hotplug_slot = false;
    device = VirtioMemPci::start(binary, geometry);
  }
  if (!device) return failed(device.error());
  auto version = (*device)->qemu_version();
  if (!version) return failed(version.error());
  auto defaults = (*device)->property_defaults();
  if (!defaults) return failed(defaults.error());
  ProbedQemu probed{*version, release_of(*version), profile_of(**device, *defaults)};
  // Last: a removed device is not driven any more.
  probed.profile.hotplug_slots = geometry.hotplug_slot;
  if (geometry.hotplug_slot) {
    auto refusal = (*device)->remove();
    if (!refusal) return failed(refusal.error());
    probed.profile.removable = !*refusal;
  }
  probed.profile.name = probed.release ? qemu_profile(*probed.release).name : version->substr(0, version->find(' '));
  return probed;
}

}  // namespace vmemcheck::qemu
