#include "units.hpp"

#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace vmemcheck {

std::optional<uint64_t> parse_size(std::string_view text) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    base = 16;
    text.remove_prefix(2);
  }
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end == text.data()) return std::nullopt;
  std::string_view suffix(end, static_cast<size_t>(text.data() + text.size() - end));
  if (suffix.empty()) return value;
  // Hex digits include B..F, so a hex number takes no suffix: "0x1B" is 27, not 1 byte.
  if (base == 16) return std::nullopt;
  unsigned shift = 0;
  switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    case 'P': shift = 50; break;
    case 'E': shift = 60; break;
    default: return std::nullopt;
  }
  suffix.remove_prefix(1);
  if (!(suffix.empty() || suffix == "B" || suffix == "iB")) return std::nullopt;
  if (value > (UINT64_MAX >> shift)) return std::nullopt;
  return value << shift;
}

std::string format_size(uint64_t bytes) {
  static constexpr struct { unsigned shift; char unit; } units[] = {
      {60, 'E'}, {50, 'P'}, {40, 'T'}, {30, 'G'}, {20, 'M'}, {10, 'K'}};
  if (bytes == 0) return "0";
  for (const auto& u : units) {
    const uint64_t unit = uint64_t{1} << u.shift;
    if (bytes % unit == 0) return fmt::format("{}{}", bytes / unit, u.unit);
  }
  return fmt::format("{}", bytes);
}

std::string format_size_approx(double bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  unsigned i = 0;
  while (bytes >= 1024.0 && i + 1 < std::size(units)) {
    bytes /= 1024.0;
    ++i;
  }
  return i == 0 ? fmt::format("{:.0f} B", bytes) : fmt::format("{:.2f} {}", bytes, units[i]);
}

}  // namespace vmemcheck
