#include "fuzz_target_option.hpp"

#include <algorithm>
#include <filesystem>

#include "fuzz_targets.hpp"

namespace vmemcheck::cli {

// The fuzz targets are those the build lists (fuzz_targets.hpp, generated from
// fuzz/CMakeLists.txt); the decoder gives each name its input format.
std::string target_names() {
  std::string out;
  for (std::string_view name : fuzz::kTargetNames) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

std::optional<fuzz::Target> listed_target(std::string_view text) {
  if (std::ranges::find(fuzz::kTargetNames, text) == std::ranges::end(fuzz::kTargetNames)) return std::nullopt;
  return fuzz::parse_target(text);
}

CLI::Validator target_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        return listed_target(text) ? "" : "'" + text + "' is not a fuzz target (" + target_names() + ")";
      },
      "TARGET");
}

fuzz::Target target_of(const std::string& given, const std::string& file) {
  if (!given.empty()) return *listed_target(given);
  for (auto dir = std::filesystem::path(file).parent_path(); !dir.empty() && dir != dir.parent_path();
       dir = dir.parent_path()) {
    if (auto t = listed_target(dir.filename().string())) return *t;
  }
  return fuzz::Target::Ops;
}

}  // namespace vmemcheck::cli
