// What the guest's guest_memory_check (tests/guest/) reports at a checkpoint,
// read from its console lines, and what is judged of it: the pattern read
// back intact, some of it in the device's memory, and memory never given not
// in use as RAM (every online block holds blocks QEMU plugged, and the RAM
// the kernel manages grows and shrinks exactly with QEMU's plugged size).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "result.hpp"

namespace vmemcheck::qemu {

struct GuestMemoryReport {
  size_t events_before = 0;  // the checkpoint's place in QEMU's trace
  uint64_t plugged = 0;      // QEMU's size then
  uint64_t memtotal_kib = 0;
  uint64_t pattern_mib = 0;    // written and read back
  uint64_t in_device_mib = 0;  // of which in the device's range
  uint64_t mismatches = 0;
  std::vector<std::pair<uint64_t, uint64_t>> online;  // memory blocks online in the device's range, [start, last]
  bool pattern_seen = false, online_seen = false;
};

// Reads one console line into the report if it is one of guest_memory_check's.
// Error: such a line that does not parse.
Status read_report_line(std::string_view line, GuestMemoryReport& report);

// The problems found across the checkpoints' reports; `plugged_at(report)`
// gives QEMU's plugged block addresses at a report's checkpoint.
std::vector<std::string> judge_guest_memory(
    const std::vector<GuestMemoryReport>& reports, uint64_t block_size,
    const std::function<std::set<uint64_t>(const GuestMemoryReport&)>& plugged_at);

}  // namespace vmemcheck::qemu
