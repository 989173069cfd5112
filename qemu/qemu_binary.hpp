// Which QEMU release a binary is, and where scripts/install-deps puts each.
#pragma once

#include <string>

#include "qemu_release.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

// The profile of the QEMU `binary` is (from its --version). Error: it cannot
// be run, or it is a release vmemcheck has no profile for.
Result<QemuVersion> detect_version(const std::string& binary);
// Where scripts/install-deps puts a QEMU release (the system's for 7.2).
std::string installed_binary(QemuVersion version);

}  // namespace vmemcheck::qemu
