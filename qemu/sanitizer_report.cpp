#include "sanitizer_report.hpp"

#include <algorithm>
#include <cctype>

namespace vmemcheck::qemu {
namespace {

std::string mask_numbers(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      out += text[i++];
      continue;
    }
    const bool hex = text.substr(i).starts_with("0x") || text.substr(i).starts_with("0X");
    i += hex ? 2 : 0;
    while (i < text.size() && (hex ? std::isxdigit(static_cast<unsigned char>(text[i]))
                                   : std::isdigit(static_cast<unsigned char>(text[i])))) {
      ++i;
    }
    out += 'N';
  }
  return out;
}

// Without what differs between builds of one tree: parenthesized groups
// (the module and its offset, "(BuildId: ...)") and the folders of paths
// (a build's folder is named by its hash).
std::string without_build_details(std::string_view summary) {
  std::string out;
  int depth = 0;
  for (const char c : summary) {
    depth += c == '(';
    if (depth == 0) out += c;
    depth -= c == ')' && depth > 0;
  }
  std::string kept;
  for (size_t start = 0; start < out.size();) {
    size_t end = out.find(' ', start);
    if (end == std::string::npos) end = out.size();
    const std::string_view word = std::string_view(out).substr(start, end - start);
    kept += word.substr(word.rfind('/') == std::string_view::npos ? 0 : word.rfind('/') + 1);
    if (end < out.size()) kept += ' ';
    start = end + 1;
  }
  return kept;
}

}  // namespace

std::string report_summary(std::string_view report) {
  std::string_view first;
  for (size_t start = 0; start < report.size();) {
    size_t end = report.find('\n', start);
    if (end == std::string_view::npos) end = report.size();
    const std::string_view line = report.substr(start, end - start);
    if (line.starts_with("SUMMARY: ")) return std::string(line);
    // Text, not a rule: GLib's assertions start with a line of "**".
    const bool text = std::ranges::any_of(line, [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; });
    if (first.empty() && text) first = line;
    start = end + 1;
  }
  return std::string(first);
}

std::string report_key(std::string_view report) {
  return mask_numbers(without_build_details(report_summary(report)));
}

}  // namespace vmemcheck::qemu
