// Byte-size constants and the human-readable size syntax ("2M", "1T", "0x1000")
// shared by the scenario language, the CLI and the printers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmemcheck {

inline constexpr uint64_t KiB = uint64_t{1} << 10;
inline constexpr uint64_t MiB = uint64_t{1} << 20;
inline constexpr uint64_t GiB = uint64_t{1} << 30;
inline constexpr uint64_t TiB = uint64_t{1} << 40;

// Parses a decimal or 0x-hex number with an optional binary suffix
// (K, M, G, T, P, E; "KiB"/"KB" spellings accepted). Rejects overflow.
std::optional<uint64_t> parse_size(std::string_view text);

// Formats a byte count exactly, with the largest binary unit that divides it
// ("512M", "1T", "4097"), so printed sizes parse back to the same value.
std::string format_size(uint64_t bytes);

// Formats a byte count approximately for reports ("2.57 GiB").
std::string format_size_approx(double bytes);

}  // namespace vmemcheck
