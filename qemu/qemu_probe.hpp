// The device profile of any QEMU binary, found by asking it, not by its
// version string: a developer's tree (10.1.50) or a patched release runs
// with what it has. The release table (qemu_release.hpp) checks the probe.
#pragma once

#include <optional>
#include <string>

#include "qemu_release.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

struct ProbedQemu {
  std::string version;                // "10.0.2 (Debian ...)", QMP query-version
  std::optional<QemuVersion> release;  // the table's release of that version, if any
  QemuDeviceProfile profile;          // named after the release, else the version
};

// Starts `binary` on q35 with one small virtio-mem-pci (no NUMA,
// unplugged-inaccessible=on) and reads the features its device offers and
// its properties with their defaults. Error: it could not be started or
// did not answer.
Result<ProbedQemu> probe_qemu(const std::string& binary);

}  // namespace vmemcheck::qemu
