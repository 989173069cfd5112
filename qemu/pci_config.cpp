#include "pci_config.hpp"

#include <fmt/format.h>

#include "qtest_commands.hpp"

namespace vmemcheck::qemu {

Result<std::vector<PciFunction>> find_pci_functions(QemuProcess& process, uint16_t vendor, uint16_t device) {
  std::vector<std::string> scan;
  for (uint32_t slot = 0; slot < 32; ++slot) {
    scan.push_back(fmt::format("outl 0xcf8 {:#x}", 0x80000000u | (slot << 11)));
    scan.push_back("inl 0xcfc");
  }
  auto ids = process.qtest_batch(scan);
  if (!ids) return ids.error();
  std::vector<PciFunction> found;
  for (uint32_t slot = 0; slot < 32; ++slot) {
    auto id = parse_hex((*ids)[2 * slot + 1]);
    if (!id) return id.error();
    if ((*id & 0xffff) == vendor && (*id >> 16) == device) found.push_back(0x80000000u | (slot << 11));
  }
  return found;
}

Result<uint32_t> pci_read(QemuProcess& process, PciFunction function, uint8_t offset) {
  auto answers = process.qtest_batch({fmt::format("outl 0xcf8 {:#x}", function | (offset & 0xfcu)), "inl 0xcfc"});
  if (!answers) return answers.error();
  auto value = parse_hex((*answers)[1]);
  if (!value) return value.error();
  return static_cast<uint32_t>(*value >> (8 * (offset & 3)));
}

std::vector<std::string> pci_write_commands(PciFunction function, uint8_t offset, uint32_t value) {
  return {fmt::format("outl 0xcf8 {:#x}", function | offset), fmt::format("outl 0xcfc {:#x}", value)};
}

Result<std::vector<PciCapability>> pci_capabilities(QemuProcess& process, PciFunction function) {
  auto status = pci_read(process, function, 0x06);
  if (!status) return status.error();
  if (!(*status & 0x10)) return Error{fmt::format("PCI function {:#x} has no capability list", function)};
  auto pointer = pci_read(process, function, 0x34);
  if (!pointer) return pointer.error();
  std::vector<PciCapability> capabilities;
  uint8_t at = static_cast<uint8_t>(*pointer & 0xfc);
  for (int guard = 0; at != 0 && guard < 48; ++guard) {
    auto head = pci_read(process, function, at);
    if (!head) return head.error();
    capabilities.push_back({at, static_cast<uint8_t>(*head & 0xff)});
    at = static_cast<uint8_t>((*head >> 8) & 0xfc);
  }
  return capabilities;
}

}  // namespace vmemcheck::qemu
