// The QEMU releases `vmemcheck qemu` runs as a device under test, and what
// each release's virtio-mem-pci does beyond DESIGN §6 (docs/qemu.md has the
// differences). Knowledge about QEMU, not part of the device core.
#pragma once

#include <optional>
#include <string_view>

#include "device_config.hpp"
#include "result.hpp"

namespace vmemcheck {

enum class QemuVersion { V7_2, V10_0 };

struct QemuDeviceProfile {
  QemuVersion version;
  std::string_view name;           // as `vmemcheck qemu --qemu-version` and QEMU's --version spell it
  bool offers_persistent_suspend;  // not by 7.2; by 10.0 whenever the machine can wake from suspend, as q35 can
  bool dynamic_memslots;           // 8.2+: dynamic-memslots=on maps memslots holding plugged blocks
};

const QemuDeviceProfile& qemu_profile(QemuVersion version);
std::optional<QemuVersion> parse_qemu_version(std::string_view text);
// `config` as that release's device on q35 has it (PERSISTENT_SUSPEND offered
// by 10.0, which no property turns off). Error: persistent-suspend=on on a
// release that does not offer it. The memslot mode is left as it is: which
// modes a release has is the caller's question (QemuDeviceProfile).
Result<DeviceConfig> as_on_qemu(DeviceConfig config, QemuVersion version);

}  // namespace vmemcheck
