#include "qemu_binary.hpp"

namespace vmemcheck::qemu {

std::string installed_binary(QemuVersion version) {
  return version == QemuVersion::V7_2 ? "qemu-system-x86_64" : "/opt/vmemcheck/qemu-10.0/usr/bin/qemu-system-x86_64";
}

}  // namespace vmemcheck::qemu
