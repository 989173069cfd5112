#include "mtree_parser.hpp"

#include <charconv>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

Error malformed(std::string_view line, std::string_view why) {
  return Error{fmt::format("info mtree line '{}' not understood: {}", line, why), ErrorCode::QemuProtocol};
}

// Consumes `prefix` from the front of `text`.
bool take(std::string_view& text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return false;
  text.remove_prefix(prefix.size());
  return true;
}

template <typename T>
bool take_number(std::string_view& text, T& value, int base) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end == text.data()) return false;
  text.remove_prefix(static_cast<size_t>(end - text.data()));
  return true;
}

// "START-LAST", both in hex.
bool take_range(std::string_view& text, uint64_t& start, uint64_t& last) {
  return take_number(text, start, 16) && take(text, "-") && take_number(text, last, 16);
}

}  // namespace

Result<MtreeRegion> parse_mtree_line(std::string_view line) {
  MtreeRegion r;
  const size_t indent = line.find_first_not_of(' ');
  if (indent == std::string_view::npos || indent % 2 != 0) return malformed(line, "odd indentation");
  r.depth = static_cast<unsigned>(indent / 2);
  std::string_view rest = line.substr(indent);
  if (!take_range(rest, r.start, r.last)) return malformed(line, "no START-LAST range");
  if (!take(rest, " (prio ") || !take_number(rest, r.priority, 10) || !take(rest, ", ")) {
    return malformed(line, "no priority");
  }
  const size_t close = rest.find("): ");
  if (close == std::string_view::npos) return malformed(line, "no region type");
  r.type = std::string(rest.substr(0, close));
  rest.remove_prefix(close + 3);
  if (!take(rest, "alias ")) {
    r.name = std::string(rest);
    return r;
  }
  const size_t at = rest.find(" @");
  if (at == std::string_view::npos) return malformed(line, "an alias without @TARGET");
  r.name = std::string(rest.substr(0, at));
  rest.remove_prefix(at + 2);
  const size_t space = rest.find(' ');
  if (space == std::string_view::npos) return malformed(line, "an alias without its offset range");
  MtreeRegion::Alias alias{std::string(rest.substr(0, space)), 0, 0};
  rest.remove_prefix(space + 1);
  if (!take_range(rest, alias.offset, alias.last) || !rest.empty()) return malformed(line, "a bad alias offset range");
  r.alias = std::move(alias);
  return r;
}

Result<std::vector<MtreeRegion>> device_memory_tree(std::string_view text) {
  std::vector<MtreeRegion> tree;
  bool in_memory = false;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, end);
    text.remove_prefix(std::min(end + 1, text.size()));
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.starts_with("address-space: ")) {
      if (in_memory) break;
      in_memory = line == "address-space: memory";
      continue;
    }
    if (!in_memory || line.empty()) continue;
    const size_t indent = line.find_first_not_of(' ');
    if (tree.empty()) {
      if (!line.ends_with("): device-memory")) continue;
    } else if (indent <= 2 * tree.front().depth) {
      break;
    }
    auto region = parse_mtree_line(line);
    if (!region) return region.error();
    tree.push_back(std::move(*region));
  }
  if (tree.empty()) {
    return Error{"info mtree shows no device-memory container in address space \"memory\"", ErrorCode::QemuProtocol};
  }
  const unsigned base = tree.front().depth;
  for (MtreeRegion& region : tree) region.depth -= base;
  return tree;
}

std::vector<MtreeRegion> device_subtree(const std::vector<MtreeRegion>& tree, uint64_t addr) {
  std::vector<MtreeRegion> device;
  for (const MtreeRegion& region : tree) {
    if (device.empty()) {
      if (region.depth == 1 && region.start == addr) device.push_back(region);
    } else if (region.depth > 1) {
      device.push_back(region);
    } else {
      break;
    }
  }
  for (MtreeRegion& region : device) region.depth -= 1;
  return device;
}

}  // namespace vmemcheck::qemu
