// An `info mtree`-style view of the device-memory area: the container, each
// device's memslot container and the memslot aliases that are mapped, in
// QEMU's format (seed 002's listings), so runs compare against QEMU's output.
#pragma once

#include <string>

#include "machine.hpp"

namespace vmemcheck {

std::string render_mtree(const Machine& machine);

}  // namespace vmemcheck
