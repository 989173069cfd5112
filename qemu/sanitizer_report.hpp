// What identifies a sanitizer report of an instrumented QEMU
// (scripts/build-qemu), for deduplicating findings as the fuzzers' crashes
// are (scripts/campaign_data.py: the first problem, numbers masked).
#pragma once

#include <string>
#include <string_view>

namespace vmemcheck::qemu {

// The report's SUMMARY line (the sanitizers' one-line verdict: kind, file,
// line, function), else its first line with a letter or digit (a crash's
// assertion, past GLib's "**"); "" for an empty report.
std::string report_summary(std::string_view report);
// The summary without what differs between builds (module offsets, build
// ids, folders) and with every number (hex first) masked as N: two reports
// of one bug at other addresses, lines or builds share it.
std::string report_key(std::string_view report);

}  // namespace vmemcheck::qemu
