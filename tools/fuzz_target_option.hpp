// The --target option of the commands that decode fuzzer inputs (replay,
// convert, minimize, triage, qemu --corpus): the targets the build lists,
// and which one made a given input.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "fuzz_decoder.hpp"

namespace vmemcheck::cli {

// "ops, virtqueue, layout": the fuzz targets the build lists.
std::string target_names();
std::optional<fuzz::Target> listed_target(std::string_view text);
CLI::Validator target_validator();
// The target an input belongs to: given, or the corpus directory it sits in
// (corpus/<target>/...), else ops.
fuzz::Target target_of(const std::string& given, const std::string& file);

}  // namespace vmemcheck::cli
