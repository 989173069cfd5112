// What a QEMU's virtio-mem-pci does beyond DESIGN §6, as the core models it
// (docs/qemu.md has the differences), and the release table: what QEMU 7.2
// and 10.0 have, which checks the profile probed from a binary
// (qemu_probe.hpp). Knowledge about QEMU, not part of the device core.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "device_config.hpp"
#include "result.hpp"

namespace vmemcheck {

// The releases of the table (`vmemcheck qemu --qemu-version`).
enum class QemuVersion { V7_2, V10_0 };

struct QemuDeviceProfile {
  std::string name;  // the release ("7.2", "10.0"), or the version of a QEMU the table lacks ("10.1.50")
  // The device feature bits (0-23) offered on q35 (no NUMA nodes given) with
  // unplugged-inaccessible=on: ACPI_PXM and UNPLUGGED_INACCESSIBLE; 10.0 adds
  // PERSISTENT_SUSPEND whenever the machine can wake from suspend, as q35 can.
  uint64_t offered_features = 0;
  bool dynamic_memslots = false;  // 8.2+: dynamic-memslots=on maps memslots holding plugged blocks
  bool ioeventfd = false;         // an ioeventfd property (10.0; not 7.2, which notifies synchronously)
  // "auto" (7.2), "on" (10.0): checked, not modelled (vmemcheck always passes the property).
  std::string unplugged_inaccessible_default;
  // The build has pcie-root-port: each device sits on its own hotplug slot,
  // behind which virtio-pci also offers a function-level reset.
  bool hotplug_slots = false;
  // device_del removes an empty device on a hotplug slot (10.0; 7.2 answers
  // "virtio based memory devices cannot be unplugged."). Without hotplug
  // slots there is nothing to try: false.
  bool removable = false;

  bool offers_persistent_suspend() const;
  friend bool operator==(const QemuDeviceProfile&, const QemuDeviceProfile&) = default;
};

// The table's entry of a release.
const QemuDeviceProfile& qemu_profile(QemuVersion version);
// "7.2" or "10.0" (--qemu-version's words).
std::optional<QemuVersion> parse_qemu_version(std::string_view text);
// The table's release a QEMU version ("10.0.2 (Debian ...)") belongs to, if any.
std::optional<QemuVersion> release_of(std::string_view version_text);
// What differs between a probed profile and the table's entry ("" when nothing).
std::string profile_differences(const QemuDeviceProfile& probed, const QemuDeviceProfile& table);
// A profile in one line: "features 0x7, dynamic-memslots, ioeventfd, unplugged-inaccessible default on".
std::string describe(const QemuDeviceProfile& profile);
// `config` as the profile's device on q35 has it (PERSISTENT_SUSPEND offered
// by 10.0, which no property turns off). Error: persistent-suspend=on on a
// QEMU that does not offer it. The memslot mode is left as it is: which
// modes a QEMU has is the caller's question (QemuDeviceProfile).
Result<DeviceConfig> as_on_qemu(DeviceConfig config, const QemuDeviceProfile& profile);

}  // namespace vmemcheck
