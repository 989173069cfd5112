#include "qemu_release.hpp"

#include <fmt/format.h>

#include "wire.hpp"

namespace vmemcheck {

bool QemuDeviceProfile::offers_persistent_suspend() const {
  return (offered_features & kFeaturePersistentSuspend) != 0;
}

const QemuDeviceProfile& qemu_profile(QemuVersion version) {
  constexpr uint64_t kOnQ35 = kFeatureAcpiPxm | kFeatureUnpluggedInaccessible;
  static const QemuDeviceProfile kV7_2{"7.2", kOnQ35, false, false, "auto", true, false};
  static const QemuDeviceProfile kV10_0{"10.0", kOnQ35 | kFeaturePersistentSuspend, true, true, "on", true, true};
  return version == QemuVersion::V7_2 ? kV7_2 : kV10_0;
}

std::optional<QemuVersion> parse_qemu_version(std::string_view text) {
  for (auto version : {QemuVersion::V7_2, QemuVersion::V10_0}) {
    if (qemu_profile(version).name == text) return version;
  }
  return std::nullopt;
}

std::optional<QemuVersion> release_of(std::string_view version_text) {
  const auto second_dot = version_text.find('.', version_text.find('.') + 1);
  if (second_dot == std::string_view::npos) return std::nullopt;
  return parse_qemu_version(version_text.substr(0, second_dot));
}

std::string profile_differences(const QemuDeviceProfile& probed, const QemuDeviceProfile& table) {
  std::string out;
  const auto differ = [&](std::string_view what, const std::string& got, const std::string& expected) {
    if (got != expected) out += fmt::format("{}{} {} (table: {})", out.empty() ? "" : ", ", what, got, expected);
  };
  differ("offered features", fmt::format("{:#x}", probed.offered_features), fmt::format("{:#x}", table.offered_features));
  differ("dynamic-memslots", probed.dynamic_memslots ? "present" : "absent", table.dynamic_memslots ? "present" : "absent");
  differ("ioeventfd", probed.ioeventfd ? "present" : "absent", table.ioeventfd ? "present" : "absent");
  differ("unplugged-inaccessible default", probed.unplugged_inaccessible_default, table.unplugged_inaccessible_default);
  differ("hotplug slots", probed.hotplug_slots ? "present" : "absent", table.hotplug_slots ? "present" : "absent");
  differ("device_del", probed.removable ? "removes" : "does not remove", table.removable ? "removes" : "does not remove");
  return out;
}

std::string describe(const QemuDeviceProfile& profile) {
  return fmt::format("features {:#x}{}{}, unplugged-inaccessible default {}{}{}", profile.offered_features,
                     profile.dynamic_memslots ? ", dynamic-memslots" : "", profile.ioeventfd ? ", ioeventfd" : "",
                     profile.unplugged_inaccessible_default, profile.hotplug_slots ? ", hotplug slots" : "",
                     profile.removable ? ", device_del removes" : "");
}

Result<DeviceConfig> as_on_qemu(DeviceConfig config, const QemuDeviceProfile& profile) {
  if (config.persistent_suspend && !profile.offers_persistent_suspend()) {
    return Error{fmt::format("device '{}': persistent-suspend=on (QEMU {} does not offer it)", config.id,
                             profile.name)};
  }
  config.persistent_suspend = profile.offers_persistent_suspend();
  // ACPI_PXM is the machine's to offer (q35 has ACPI), not a device property:
  // the device is compared as the machine makes it.
  config.acpi = (profile.offered_features & kFeatureAcpiPxm) != 0;
  return config;
}

}  // namespace vmemcheck
