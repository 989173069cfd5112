// Where scripts/install-deps puts each QEMU release of the table.
#pragma once

#include <string>

#include "qemu_release.hpp"

namespace vmemcheck::qemu {

// The system's for 7.2, the unpacked tree's for 10.0.
std::string installed_binary(QemuVersion version);

}  // namespace vmemcheck::qemu
