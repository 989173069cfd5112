// vmemcheck kvm-metadata: the kernel memory real KVM takes for a 1 TiB
// device's memslots, as one static memslot (with and without the SMM address
// space) and with dynamic 1 GiB memslots at growing plugged sizes, beside the
// shadow model's prediction. Needs /dev/kvm (scripts/measure-kvm-metadata
// runs it inside the TCG guest where there is none).
#include <iostream>
#include <vector>

#include <fmt/format.h>

#include "commands.hpp"
#include "metadata_measurement.hpp"
#include "real_kvm_vm.hpp"
#include "units.hpp"

namespace vmemcheck::cli {

Command add_kvm_metadata_command(CLI::App& app) {
  struct Options {
    std::string region = "1T";
    std::string block = "2M";
    std::string gpa = "4G";
    int repeat = 5;
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "kvm-metadata",
      "Measure the kernel memory real KVM (TDP MMU) takes for one device's memslots: the growth\n"
      "of VmallocUsed + SUnreclaim over fresh VMs (median of --repeat runs), for one static memslot\n"
      "(SMM off and on) and dynamic 1 GiB memslots at 1..1024 GiB plugged, beside the shadow model's\n"
      "prediction. Also prints the rows as 'kvm-metadata-csv,' lines for plotting. Needs /dev/kvm.");
  cmd->add_option("--region-size", options->region, "Device region size")->check(size_validator())->capture_default_str();
  cmd->add_option("--block-size", options->block, "Device block size")->check(size_validator())->capture_default_str();
  cmd->add_option("--gpa", options->gpa, "Guest-physical address of the device")->check(size_validator())->capture_default_str();
  cmd->add_option("--repeat", options->repeat, "Measured runs per row")->check(CLI::Range(1, 101))->capture_default_str();
  return [options]() {
    if (const Status usable = kvm::kvm_usable(); !usable) {
      std::cerr << "vmemcheck kvm-metadata: " << usable.error().message
                << "\n  (scripts/measure-kvm-metadata runs this inside a TCG guest)\n";
      return 2;
    }
    const uint64_t region = size_option(options->region);
    const uint64_t block = size_option(options->block);
    const uint64_t gpa = size_option(options->gpa);
    std::vector<kvm::MetadataCase> cases = {
        {"static", MemslotMode::Static, 1, region, block, 0, false},
        {"static+smm", MemslotMode::Static, 1, region, block, 0, true},
    };
    // At most one memslot per GiB (QEMU's rule); 1024 for 1 TiB.
    const uint64_t limit = std::max<uint64_t>(1, region / GiB);
    for (uint64_t plugged = GiB; plugged <= region; plugged *= 4) {
      cases.push_back({"dynamic", MemslotMode::Dynamic, limit, region, block, plugged, false});
    }
    if (cases.back().plugged != region) cases.push_back({"dynamic", MemslotMode::Dynamic, limit, region, block, region, false});

    fmt::print("KVM memslot metadata for a {} device ({} blocks) at GPA {:#x}, median of {} runs\n\n",
               format_size(region), format_size(block), gpa, options->repeat);
    fmt::print("{:<11} {:>8} {:>6} {:>14} {:>22} {:>14} {:>8} {:>8}\n", "layout", "plugged", "slots", "measured",
               "(min - max)", "predicted", "ratio", "saving");
    std::vector<std::string> csv;
    uint64_t static_bytes = 0;
    for (const auto& c : cases) {
      auto m = kvm::measure_kvm_metadata(c, gpa, options->repeat);
      if (!m) {
        std::cerr << "vmemcheck kvm-metadata: " << m.error().message << "\n";
        return 1;
      }
      if (c.label == "static") static_bytes = m->median_bytes;
      const double ratio = m->predicted_bytes ? static_cast<double>(m->median_bytes) / static_cast<double>(m->predicted_bytes) : 0;
      const std::string saving = c.mode == MemslotMode::Dynamic && m->median_bytes
                                     ? fmt::format("{:.0f}x", static_cast<double>(static_bytes) / static_cast<double>(m->median_bytes))
                                     : "-";
      fmt::print("{:<11} {:>8} {:>6} {:>10} KiB {:>22} {:>10} KiB {:>8.3f} {:>8}\n", c.label,
                 c.plugged ? format_size(c.plugged) : "-", m->kvm_slots, m->median_bytes / 1024,
                 fmt::format("({} - {} KiB)", m->min_bytes / 1024, m->max_bytes / 1024), m->predicted_bytes / 1024, ratio,
                 saving);
      std::fflush(stdout);
      csv.push_back(fmt::format("kvm-metadata-csv,{},{},{},{},{},{},{}", c.label, c.plugged, m->kvm_slots,
                                m->median_bytes, m->min_bytes, m->max_bytes, m->predicted_bytes));
    }
    fmt::print("\nkvm-metadata-csv,layout,plugged_bytes,kvm_slots,median_bytes,min_bytes,max_bytes,predicted_bytes\n");
    for (const auto& line : csv) fmt::print("{}\n", line);
    return 0;
  };
}

}  // namespace vmemcheck::cli
