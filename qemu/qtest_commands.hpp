// The words of QEMU's qtest protocol that the drivers batch: MMIO and
// guest-memory reads and writes, and reading their answers back.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "result.hpp"

namespace vmemcheck::qemu {

std::string mmio_read_command(uint64_t addr, int size);
std::string mmio_write_command(uint64_t addr, int size, uint64_t value);
std::string mem_write_command(uint64_t addr, std::span<const uint8_t> bytes);
std::string mem_read_command(uint64_t addr, size_t size);
// A number qtest answered ("0x1af4"). Error (QemuProtocol): anything else.
Result<uint64_t> parse_hex(const std::string& answer);
// The bytes of a `read` answer ("0x" and two hex digits a byte).
Result<std::vector<uint8_t>> parse_bytes(const std::string& answer, size_t size);

}  // namespace vmemcheck::qemu
