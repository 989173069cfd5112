#include "guest_memory_report.hpp"

#include <optional>

#include <fmt/format.h>

#include "units.hpp"

namespace vmemcheck::qemu {
namespace {

// "KEY=N" in a line of space-separated fields.
std::optional<uint64_t> field(std::string_view line, std::string_view key) {
  const auto at = line.find(std::string(key) + "=");
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = line.substr(at + key.size() + 1);
  return parse_size(rest.substr(0, rest.find_first_of(" \r")));
}

Status read_pattern(std::string_view line, GuestMemoryReport& r) {
  const auto memtotal = field(line, "memtotal"), allocated = field(line, "allocated"), device = field(line, "device"),
             mismatches = field(line, "mismatches");
  if (!memtotal || !allocated || !device || !mismatches) return Error{fmt::format("unreadable guest line '{}'", line)};
  r.memtotal_kib = *memtotal;
  r.pattern_mib = *allocated;
  r.in_device_mib = *device;
  r.mismatches = *mismatches;
  r.pattern_seen = true;
  return ok_status();
}

Status read_online(std::string_view ranges, GuestMemoryReport& r) {
  r.online_seen = true;
  while (!ranges.empty() && (ranges.back() == '\r' || ranges.back() == ' ')) ranges.remove_suffix(1);
  if (ranges == "none") return ok_status();
  for (size_t start = 0; start < ranges.size();) {
    size_t end = ranges.find(',', start);
    if (end == std::string_view::npos) end = ranges.size();
    const std::string_view range = ranges.substr(start, end - start);
    const auto dash = range.find('-');
    const auto first = parse_size(range.substr(0, dash)), last = parse_size(range.substr(dash + 1));
    if (dash == std::string_view::npos || !first || !last) return Error{fmt::format("unreadable online range '{}'", range)};
    r.online.emplace_back(*first, *last);
    start = end + 1;
  }
  return ok_status();
}

}  // namespace

Status read_report_line(std::string_view line, GuestMemoryReport& report) {
  constexpr std::string_view kPattern = "vmemcheck-pattern: ", kOnline = "vmemcheck-online: ";
  if (const auto at = line.find(kPattern); at != std::string_view::npos) return read_pattern(line.substr(at), report);
  if (const auto at = line.find(kOnline); at != std::string_view::npos) {
    return read_online(line.substr(at + kOnline.size()), report);
  }
  return ok_status();
}

namespace {

// One report's problems against QEMU's plugged blocks then, and the RAM the
// kernel managed at the first report with that report's plugged size.
std::vector<std::string> judge_report(const GuestMemoryReport& r, const std::set<uint64_t>& plugged,
                                      uint64_t block_size, const GuestMemoryReport& first) {
  std::vector<std::string> problems;
  const std::string where = fmt::format("checkpoint at trace event {} (plugged {:#x})", r.events_before, r.plugged);
  if (!r.pattern_seen || !r.online_seen) problems.push_back(where + ": the guest's report is incomplete");
  if (r.mismatches) problems.push_back(fmt::format("{}: {} pattern words read back wrong", where, r.mismatches));
  for (const auto& [start, last] : r.online) {
    const auto inside = plugged.lower_bound(start);
    if (inside == plugged.end() || *inside + block_size - 1 > last) {
      problems.push_back(fmt::format("{}: memory block {:#x}-{:#x} is online but QEMU plugged none of it", where, start, last));
    }
  }
  // Unplugged subblocks of an online block stay out of the kernel's RAM: its total follows the plugged size.
  const int64_t grown_kib = static_cast<int64_t>(r.memtotal_kib) - static_cast<int64_t>(first.memtotal_kib);
  const int64_t plugged_kib = (static_cast<int64_t>(r.plugged) - static_cast<int64_t>(first.plugged)) / 1024;
  if (grown_kib != plugged_kib) {
    problems.push_back(fmt::format("{}: the guest's RAM changed by {} KiB since the first checkpoint, QEMU's plugged "
                                   "size by {} KiB", where, grown_kib, plugged_kib));
  }
  return problems;
}

}  // namespace

std::vector<std::string> judge_guest_memory(
    const std::vector<GuestMemoryReport>& reports, uint64_t block_size,
    const std::function<std::set<uint64_t>(const GuestMemoryReport&)>& plugged_at) {
  std::vector<std::string> problems;
  uint64_t in_device = 0;
  for (const GuestMemoryReport& report : reports) {
    for (auto& problem : judge_report(report, plugged_at(report), block_size, reports.front())) {
      problems.push_back(std::move(problem));
    }
    in_device += report.in_device_mib;
  }
  if (in_device == 0) problems.push_back("the pattern never lay in the device's memory");
  return problems;
}

}  // namespace vmemcheck::qemu
