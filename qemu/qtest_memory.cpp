#include "qtest_memory.hpp"

#include <algorithm>

#include "qtest_commands.hpp"

namespace vmemcheck::qemu {

bool QtestMemory::read(uint64_t gpa, std::span<uint8_t> bytes) {
  if (bytes.empty()) return true;
  auto answer = process_.qtest(mem_read_command(gpa, bytes.size()));
  if (!answer) {
    failure_ = answer.error();
    return false;
  }
  auto parsed = parse_bytes(*answer, bytes.size());
  if (!parsed) {
    failure_ = parsed.error();
    return false;
  }
  std::ranges::copy(*parsed, bytes.begin());
  return true;
}

}  // namespace vmemcheck::qemu
