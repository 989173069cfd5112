#include "qtest_commands.hpp"

#include <charconv>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

const char* width_suffix(int size) { return size == 1 ? "b" : size == 2 ? "w" : size == 4 ? "l" : "q"; }

}  // namespace

std::string mmio_read_command(uint64_t addr, int size) { return fmt::format("read{} {:#x}", width_suffix(size), addr); }

std::string mmio_write_command(uint64_t addr, int size, uint64_t value) {
  return fmt::format("write{} {:#x} {:#x}", width_suffix(size), addr, value);
}

std::string mem_write_command(uint64_t addr, std::span<const uint8_t> bytes) {
  std::string hex;
  hex.reserve(2 * bytes.size());
  for (const uint8_t byte : bytes) hex += fmt::format("{:02x}", byte);
  return fmt::format("write {:#x} {} 0x{}", addr, bytes.size(), hex);
}

std::string mem_read_command(uint64_t addr, size_t size) { return fmt::format("read {:#x} {}", addr, size); }

Result<uint64_t> parse_hex(const std::string& answer) {
  uint64_t value = 0;
  const char* begin = answer.data() + (answer.starts_with("0x") ? 2 : 0);
  const char* end = answer.data() + answer.size();
  const auto [stop, error] = std::from_chars(begin, end, value, 16);
  if (answer.empty() || error != std::errc() || stop != end) {
    return Error{fmt::format("qtest answered '{}', expected a number", answer), ErrorCode::QemuProtocol};
  }
  return value;
}

Result<std::vector<uint8_t>> parse_bytes(const std::string& answer, size_t size) {
  if (!answer.starts_with("0x") || answer.size() != 2 + 2 * size) {
    return Error{fmt::format("qtest read answered '{}', expected {} bytes", answer, size), ErrorCode::QemuProtocol};
  }
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) {
    const char* digits = answer.data() + 2 + 2 * i;
    if (std::from_chars(digits, digits + 2, bytes[i], 16).ptr != digits + 2) {
      return Error{fmt::format("qtest read answered '{}', expected hex bytes", answer), ErrorCode::QemuProtocol};
    }
  }
  return bytes;
}

}  // namespace vmemcheck::qemu
