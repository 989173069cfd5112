#include "qemu_binary.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "qemu_process.hpp"

namespace vmemcheck::qemu {

Result<QemuVersion> detect_version(const std::string& binary) {
  auto text = probe_version(binary);
  if (!text) return text.error();
  const auto second_dot = text->find('.', text->find('.') + 1);
  const std::string release = text->substr(0, std::min(second_dot, text->find(' ')));
  if (auto version = parse_qemu_version(release)) return *version;
  return Error{fmt::format("'{}' is QEMU {}; vmemcheck models QEMU 7.2 and 10.0 (--qemu-version)", binary, *text)};
}

std::string installed_binary(QemuVersion version) {
  return version == QemuVersion::V7_2 ? "qemu-system-x86_64" : "/opt/vmemcheck/qemu-10.0/usr/bin/qemu-system-x86_64";
}

}  // namespace vmemcheck::qemu
