// A sanitizer report of an instrumented QEMU as a `vmemcheck qemu` finding:
// the ops that led to it as a scenario that replays, the report beside it,
// one per distinct report (qemu/sanitizer_report.hpp's key) like the
// fuzzers' crashes; FINDINGS/qemu-sanitizer-index.tsv holds each key with
// its scenario and how many reports had it.
#pragma once

#include <filesystem>
#include <string>

namespace vmemcheck::cli {

struct SanitizerFinding {
  std::string key;
  std::filesystem::path scenario;  // the kept one (of the first report with this key)
  bool first_of_key = false;       // this report was kept; else only counted
};

// `stem`: the scenario's file name without .vmem ("qemu-10.0-sanitizer-1234");
// `scenario_text`: the ops up to the one QEMU's sanitizer ended it at;
// `report`: the sanitizer's whole report.
SanitizerFinding save_sanitizer_finding(const std::filesystem::path& findings, const std::string& stem,
                                        const std::string& scenario_text, const std::string& report);
// The report in an error of QemuSanitizerReport: what follows its first line.
std::string report_of(const std::string& error_message);

}  // namespace vmemcheck::cli
