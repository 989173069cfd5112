// PCI configuration access on bus 0 through the legacy ports 0xcf8/0xcfc,
// over qtest: finding a function by its ids, reading and writing its
// configuration dwords, walking its capability list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qemu_process.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

// A function's address as 0xcf8 takes it: 0x80000000 | bus/device/function.
using PciFunction = uint32_t;

struct PciCapability {
  uint8_t offset = 0;  // in configuration space
  uint8_t id = 0;      // 0x09: vendor specific (virtio's)
};

// The functions on bus 0 (function 0 of each slot) with these ids, by slot.
Result<std::vector<PciFunction>> find_pci_functions(QemuProcess& process, uint16_t vendor, uint16_t device);
// The dword at `offset` (aligned down), shifted so its byte at `offset` is the lowest.
Result<uint32_t> pci_read(QemuProcess& process, PciFunction function, uint8_t offset);
// The qtest commands that write a dword, for batches.
std::vector<std::string> pci_write_commands(PciFunction function, uint8_t offset, uint32_t value);
// The capability list (status bit 4, pointer at 0x34), at most 48 entries
// (a loop in the list ends there). Error: the function has no list.
Result<std::vector<PciCapability>> pci_capabilities(QemuProcess& process, PciFunction function);

}  // namespace vmemcheck::qemu
