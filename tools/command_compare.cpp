// vmemcheck compare: the memslot policies side by side on the same guest
// traffic (the Linux driver model against host workloads): memslots, KVM
// metadata, KVM calls, exposure of unplugged memory, BUSY/NACK answers.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "commands.hpp"
#include "policy_comparison.hpp"
#include "units.hpp"

namespace vmemcheck::cli {
namespace {

std::string mib(double bytes) { return fmt::format("{:.2f}", bytes / static_cast<double>(MiB)); }

void print_table(WorkloadKind workload, const std::vector<PolicyResult>& results, const ComparisonGeometry& g) {
  fmt::print("workload {} on a {} device ({} blocks), KVM metadata with TDP MMU{}\n", name(workload),
             format_size(g.region_size), format_size(g.block_size), g.smm ? " and SMM" : "");
  fmt::print("{:<12} {:>16} {:>13} {:>26} {:>9} {:>24} {:>6} {:>6} {:>6}\n", "policy", "layout", "slots pk/avg",
             "metadata MiB pk/avg", "KVM calls", "exposed MiB pk/avg", "BUSY", "NACK", "ERROR");
  for (const auto& r : results) {
    fmt::print("{:<12} {:>16} {:>13} {:>26} {:>9} {:>24} {:>6} {:>6} {:>6}\n", r.policy.label,
               fmt::format("{} x {}", r.device_memslots, format_size(r.slot_size)),
               fmt::format("{}/{:.1f}", r.peak_slots, r.mean_slots),
               fmt::format("{}/{}", mib(static_cast<double>(r.peak_metadata)), mib(r.mean_metadata)), r.kvm_calls,
               fmt::format("{}/{}", mib(static_cast<double>(r.peak_exposure)), mib(r.mean_exposure)), r.driver.busy,
               r.driver.nacks, r.driver.errors);
  }
  fmt::print("\n");
}

std::string csv_rows(WorkloadKind workload, const std::vector<PolicyResult>& results) {
  std::string out;
  for (const auto& r : results) {
    out += fmt::format("{},{},{},{},{},{:.1f},{},{:.0f},{},{},{:.0f},{},{},{}\n", name(workload), r.policy.label,
                       r.device_memslots, r.slot_size, r.peak_slots, r.mean_slots, r.peak_metadata, r.mean_metadata,
                       r.kvm_calls, r.peak_exposure, r.mean_exposure, r.driver.busy, r.driver.nacks, r.driver.errors);
  }
  return out;
}

std::string json_rows(WorkloadKind workload, const std::vector<PolicyResult>& results) {
  std::string out;
  for (const auto& r : results) {
    out += fmt::format(
        "{}  {{\"workload\": \"{}\", \"policy\": \"{}\", \"memslots\": {}, \"slot_size\": {}, \"peak_slots\": {}, "
        "\"mean_slots\": {:.3f}, \"peak_metadata\": {}, \"mean_metadata\": {:.0f}, \"kvm_calls\": {}, "
        "\"peak_exposure\": {}, \"mean_exposure\": {:.0f}, \"busy\": {}, \"nack\": {}, \"error\": {}}}",
        out.empty() ? "" : ",\n", name(workload), r.policy.label, r.device_memslots, r.slot_size, r.peak_slots,
        r.mean_slots, r.peak_metadata, r.mean_metadata, r.kvm_calls, r.peak_exposure, r.mean_exposure, r.driver.busy,
        r.driver.nacks, r.driver.errors);
  }
  return out;
}

// Writes DIR/WORKLOAD.series.csv and a gnuplot script, and draws
// DIR/WORKLOAD-metadata.svg and DIR/WORKLOAD-exposure.svg when gnuplot is there.
bool plot(const std::filesystem::path& dir, WorkloadKind workload, const std::vector<PolicyResult>& results) {
  const std::string base = std::string(name(workload));
  {
    std::ofstream series(dir / (base + ".series.csv"));
    series << "policy,tick,requested,plugged,mapped_slots,metadata,exposure\n";
    for (const auto& r : results) {
      for (const auto& s : r.series) {
        series << fmt::format("{},{},{},{},{},{},{}\n", r.policy.label, s.tick, s.requested, s.plugged, s.mapped_slots,
                              s.metadata, s.exposure);
      }
    }
  }
  std::ofstream script(dir / (base + ".gp"));
  for (const auto& [column, what, label] : {std::tuple{6, "metadata", "KVM metadata (MiB)"},
                                             std::tuple{7, "exposure", "mapped but unplugged (MiB)"}}) {
    script << "set terminal svg size 900,500 dynamic\n"
           << fmt::format("set output '{}'\n", (dir / (base + "-" + what + ".svg")).string())
           << "set datafile separator ','\nset key outside right\nset grid\n"
           << fmt::format("set title '{}: {}'\nset xlabel 'time (driver ticks)'\nset ylabel '{}'\n", base, what, label)
           << "plot ";
    for (size_t i = 0; i < results.size(); ++i) {
      script << fmt::format("{}\"< grep '^{},' {}\" using 2:(${}/1048576.0) with lines lw 2 title '{}'",
                            i ? ", \\\n     " : "", results[i].policy.label,
                            (dir / (base + ".series.csv")).string(), column, results[i].policy.label);
    }
    script << "\n";
  }
  script.close();
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) return false;
  return std::system(fmt::format("gnuplot '{}'", (dir / (base + ".gp")).string()).c_str()) == 0;
}

}  // namespace

Command add_compare_command(CLI::App& app) {
  struct Options {
    std::vector<std::string> workloads{"grow-shrink"};
    std::vector<std::string> policies;
    std::string region = "1T";
    std::string block = "2M";
    std::string peak = "256G";
    uint64_t seed = 1;
    bool smm = false;
    std::string csv, json, scenario_dir;
    std::string plot_dir = "vmemcheck-compare";
    bool no_plots = false;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "compare",
      "Compare memslot policies on the same guest traffic: a model of the Linux virtio-mem driver\n"
      "(memory blocks of 128 MiB, highest-first unplug, BUSY backoff) follows a host workload, over\n"
      "the shadow KVM model. Per policy: mapped memslots, KVM metadata, KVM_SET_USER_MEMORY_REGION\n"
      "calls, mapped-but-unplugged bytes (exposure), BUSY/NACK/ERROR answers. Table, CSV, JSON, plots.");
  cmd->add_option("--workload", options->workloads,
                  "grow-shrink, sawtooth, random-walk, fragmented-unplug, reboot, migration, or all")
      ->capture_default_str();
  cmd->add_option("--policy", options->policies,
                  "static, v1-usable, v2-usable, v4-dynamic, fixed-SIZE (e.g. fixed-1G); default: the first four "
                  "and fixed-128M");
  cmd->add_option("--region-size", options->region, "Device region size")->check(size_validator())->capture_default_str();
  cmd->add_option("--block-size", options->block, "Device block size")->check(size_validator())->capture_default_str();
  cmd->add_option("--peak", options->peak, "Largest requested size of the workloads")->check(size_validator())->capture_default_str();
  cmd->add_option("--seed", options->seed, "Seed of the random walk")->capture_default_str();
  cmd->add_flag("--smm", options->smm, "Count KVM metadata with the SMM address space");
  cmd->add_option("--csv", options->csv, "Write the summary as CSV");
  cmd->add_option("--json", options->json, "Write the summary as JSON");
  cmd->add_option("--plot-dir", options->plot_dir, "Write per-tick series, gnuplot scripts and SVG plots here")
      ->capture_default_str();
  cmd->add_flag("--no-plots", options->no_plots, "Write no series or plots");
  cmd->add_option("--scenario-dir", options->scenario_dir, "Write each run as a scenario ('vmemcheck run' replays it)");
  return [options]() {
    if (options->no_plots) options->plot_dir.clear();
    ComparisonGeometry g;
    g.region_size = size_option(options->region);
    g.block_size = size_option(options->block);
    g.smm = options->smm;
    WorkloadGeometry wg{g.region_size, g.block_size, size_option(options->peak), options->seed};
    if (wg.peak > g.region_size) {
      std::cerr << "vmemcheck compare: --peak " << options->peak << " exceeds --region-size " << options->region << "\n";
      return 2;
    }
    std::vector<WorkloadKind> workloads;
    for (const auto& text : options->workloads) {
      if (text == "all") {
        for (auto kind : all_workloads()) workloads.push_back(kind);
      } else if (auto kind = parse_workload(text)) {
        workloads.push_back(*kind);
      } else {
        std::cerr << "vmemcheck compare: unknown workload '" << text
                  << "' (grow-shrink, sawtooth, random-walk, fragmented-unplug, reboot, migration, all)\n";
        return 2;
      }
    }
    std::vector<PolicyUnderTest> policies;
    if (options->policies.empty()) policies = default_policies(g.region_size);
    for (const auto& text : options->policies) {
      auto policy = parse_policy(text, g.region_size);
      if (!policy) {
        std::cerr << "vmemcheck compare: " << policy.error().message << "\n";
        return 2;
      }
      policies.push_back(*policy);
    }
    for (const auto& dir : {options->plot_dir, options->scenario_dir}) {
      if (!dir.empty()) std::filesystem::create_directories(dir);
    }
    std::string csv = "workload,policy,memslots,slot_size,peak_slots,mean_slots,peak_metadata,mean_metadata,"
                      "kvm_calls,peak_exposure,mean_exposure,busy,nack,error\n";
    std::string json;
    bool plotted = true;
    for (WorkloadKind workload : workloads) {
      std::vector<PolicyResult> results;
      for (const auto& policy : policies) {
        auto result = run_policy(policy, workload, wg, g);
        if (!result) {
          std::cerr << "vmemcheck compare: " << policy.label << ": " << result.error().message << "\n";
          return 1;
        }
        if (!options->scenario_dir.empty()) {
          std::ofstream out(std::filesystem::path(options->scenario_dir) / (result->scenario.name + ".vmem"));
          out << "# vmemcheck compare: workload " << name(workload) << ", policy " << policy.label << "\n"
              << scenario::to_text(result->scenario);
        }
        results.push_back(std::move(*result));
      }
      print_table(workload, results, g);
      csv += csv_rows(workload, results);
      const std::string rows = json_rows(workload, results);
      json += (json.empty() || rows.empty() ? "" : ",\n") + rows;
      if (!options->plot_dir.empty()) plotted = plot(options->plot_dir, workload, results) && plotted;
    }
    if (!options->csv.empty()) std::ofstream(options->csv) << csv;
    if (!options->json.empty()) std::ofstream(options->json) << "[\n" << json << "\n]\n";
    if (!options->plot_dir.empty()) {
      fmt::print("plots: {}{}\n", options->plot_dir,
                 plotted ? "" : " (series and gnuplot scripts only: install gnuplot-nox to draw them)");
    }
    return 0;
  };
}

}  // namespace vmemcheck::cli
