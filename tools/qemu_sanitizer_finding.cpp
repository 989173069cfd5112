#include "qemu_sanitizer_finding.hpp"

#include <fstream>
#include <map>
#include <sstream>

#include "sanitizer_report.hpp"

namespace vmemcheck::cli {
namespace {

struct IndexRow {
  std::string scenario;
  uint64_t reports = 0;
};

// The index: key, kept scenario, reports; tab separated (keys hold no tabs).
std::map<std::string, IndexRow> read_index(const std::filesystem::path& path) {
  std::map<std::string, IndexRow> rows;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::stringstream fields(line);
    std::string key, scenario, reports;
    if (std::getline(fields, key, '\t') && std::getline(fields, scenario, '\t') && std::getline(fields, reports)) {
      rows[key] = {scenario, std::stoull(reports)};
    }
  }
  return rows;
}

void write_index(const std::filesystem::path& path, const std::map<std::string, IndexRow>& rows) {
  const std::filesystem::path partial = path.string() + ".new";
  {
    std::ofstream out(partial);
    for (const auto& [key, row] : rows) out << key << '\t' << row.scenario << '\t' << row.reports << '\n';
  }
  std::filesystem::rename(partial, path);
}

}  // namespace

SanitizerFinding save_sanitizer_finding(const std::filesystem::path& findings, const std::string& stem,
                                        const std::string& scenario_text, const std::string& report) {
  std::filesystem::create_directories(findings);
  const std::filesystem::path index_path = findings / "qemu-sanitizer-index.tsv";
  auto rows = read_index(index_path);
  SanitizerFinding finding{qemu::report_key(report), findings / (stem + ".vmem"), false};
  auto& row = rows[finding.key];
  if (row.reports == 0) {
    finding.first_of_key = true;
    row.scenario = finding.scenario.string();
    std::ofstream(finding.scenario) << "# QEMU's sanitizer ended it at the last op: " << qemu::report_summary(report)
                                    << "\n# the report: " << stem << ".sanitizer.txt\n"
                                    << scenario_text;
    std::ofstream(findings / (stem + ".sanitizer.txt")) << report;
  }
  finding.scenario = row.scenario;
  ++row.reports;
  write_index(index_path, rows);
  return finding;
}

std::string report_of(const std::string& error_message) {
  const auto newline = error_message.find('\n');
  return newline == std::string::npos ? "" : error_message.substr(newline + 1);
}

}  // namespace vmemcheck::cli
