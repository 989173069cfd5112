#include "qemu_release.hpp"

#include <fmt/format.h>

namespace vmemcheck {

const QemuDeviceProfile& qemu_profile(QemuVersion version) {
  static constexpr QemuDeviceProfile kV7_2{QemuVersion::V7_2, "7.2", false, false};
  static constexpr QemuDeviceProfile kV10_0{QemuVersion::V10_0, "10.0", true, true};
  return version == QemuVersion::V7_2 ? kV7_2 : kV10_0;
}

std::optional<QemuVersion> parse_qemu_version(std::string_view text) {
  for (auto version : {QemuVersion::V7_2, QemuVersion::V10_0}) {
    if (qemu_profile(version).name == text) return version;
  }
  return std::nullopt;
}

Result<DeviceConfig> as_on_qemu(DeviceConfig config, QemuVersion version) {
  const QemuDeviceProfile& profile = qemu_profile(version);
  if (config.persistent_suspend && !profile.offers_persistent_suspend) {
    return Error{fmt::format("device '{}': persistent-suspend=on (QEMU {} does not offer it)", config.id,
                             profile.name)};
  }
  config.persistent_suspend = profile.offers_persistent_suspend;
  return config;
}

}  // namespace vmemcheck
