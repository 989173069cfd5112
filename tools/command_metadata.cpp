// vmemcheck metadata: the KVM memslot metadata the shadow model predicts for
// one device, as one static memslot and with dynamic memslots at a plugged
// size, each under the four x86 configurations (TDP MMU on/off, SMM on/off).
// The figures come from running the core on the shadow KVM, not from a formula.
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "commands.hpp"
#include "machine.hpp"
#include "shadow_kvm.hpp"
#include "units.hpp"

namespace vmemcheck::cli {
namespace {

struct Configuration {
  const char* label;
  bool tdp_mmu;
  bool smm;
  uint64_t seed_figure;  // the seeds' figure for 1 TiB as one memslot
};

constexpr Configuration kConfigurations[] = {
    {"TDP MMU, no SMM", true, false, 512 * MiB},
    {"TDP MMU, SMM", true, true, 1 * GiB},
    {"shadow MMU, no SMM", false, false, 2 * GiB + 512 * MiB},
    {"shadow MMU, SMM", false, true, 5 * GiB},
};

struct Measured {
  SlotMetadata metadata;
  uint64_t kvm_slots = 0;
  uint64_t device_memslots = 0;
  uint64_t slot_size = 0;
};

// Builds a machine with one device of `mode`, plugs `plugged` bytes from the
// start (as a guest driver does) and reads the shadow KVM's metadata.
Result<Measured> measure(const Configuration& c, MemslotMode mode, uint64_t region, uint64_t block,
                         uint64_t plugged, uint64_t gpa) {
  ShadowKvm kvm(KvmLimits{}, MetadataModel{c.tdp_mmu, false});
  SparseHostMemory host;
  MachineConfig machine_config;
  machine_config.device_memory_base = gpa;
  machine_config.device_memory_size = region;
  machine_config.smm = c.smm;
  machine_config.reserved_memslots = 0;
  Machine machine(machine_config, kvm, host);
  DeviceConfig config;
  config.region_size = region;
  config.block_size = block;
  config.requested_size = plugged;
  config.mode = mode;
  auto device = machine.add_device(config);
  if (!device) return device.error();
  VirtioMemDevice& d = **device;
  for (uint64_t offset = 0; offset < plugged;) {
    const uint64_t blocks = std::min<uint64_t>((plugged - offset) / block, 65535);
    const auto response = d.handle({RequestType::Plug, d.addr() + offset, static_cast<uint16_t>(blocks)});
    if (!response || response->type != ResponseType::Ack) {
      return Error{fmt::format("plugging [{:#x}, +{:#x}) was answered {}", offset, blocks * block,
                               response ? name(response->type) : "nothing")};
    }
    offset += blocks * block;
  }
  return Measured{kvm.metadata(), kvm.slot_count(), d.layout().count, d.layout().slot_size};
}

std::string bytes(uint64_t value) { return format_size_approx(static_cast<double>(value)); }

}  // namespace

Command add_metadata_command(CLI::App& app) {
  struct Options {
    std::string region = "1T";
    std::string block = "2M";
    std::string plugged = "1G";
    std::string gpa = "4G";
  };
  auto options = std::make_shared<Options>();
  auto* cmd = app.add_subcommand(
      "metadata",
      "Print the KVM memslot metadata (rmap, gfn_track, lpage_info) the shadow model predicts for\n"
      "one virtio-mem device: as one static memslot, and with dynamic memslots (v4) after the guest\n"
      "plugged --plugged bytes, for TDP MMU on/off and SMM on/off, beside the seeds' 1 TiB figures.");
  cmd->add_option("--region-size", options->region, "Device region size")->check(size_validator())->capture_default_str();
  cmd->add_option("--block-size", options->block, "Device block size")->check(size_validator())->capture_default_str();
  cmd->add_option("--plugged", options->plugged, "Plugged size for the dynamic layout")->check(size_validator())->capture_default_str();
  cmd->add_option("--gpa", options->gpa, "Guest-physical address of the device")->check(size_validator())->capture_default_str();
  return [options]() {
    const uint64_t region = size_option(options->region);
    const uint64_t block = size_option(options->block);
    const uint64_t plugged = size_option(options->plugged);
    const uint64_t gpa = size_option(options->gpa);
    if (plugged > region) {
      std::cerr << "vmemcheck metadata: --plugged " << options->plugged << " exceeds --region-size " << options->region << "\n";
      return 2;
    }
    fmt::print("KVM memslot metadata for a {} virtio-mem device at GPA {:#x} (shadow model of x86 KVM, Linux 6.1)\n\n",
               format_size(region), gpa);
    fmt::print("{:<20} {:>12} {:>12} {:>12} {:>12} {:>8} {:>14}\n", "one static memslot", "rmap", "gfn_track",
               "lpage_info", "total", "slots", "seeds (1 TiB)");
    std::optional<Measured> statics[std::size(kConfigurations)];
    size_t i = 0;
    for (const auto& c : kConfigurations) {
      auto m = measure(c, MemslotMode::Static, region, block, 0, gpa);
      if (!m) {
        std::cerr << "vmemcheck metadata: " << m.error().message << "\n";
        return 2;
      }
      statics[i++] = *m;
      const SlotMetadata& md = m->metadata;
      const std::string seed = region == TiB ? fmt::format("{} ({:+.1f}%)", format_size(c.seed_figure),
                                                           100.0 * (static_cast<double>(md.total()) / static_cast<double>(c.seed_figure) - 1.0))
                                             : "-";
      fmt::print("  {:<18} {:>12} {:>12} {:>12} {:>12} {:>8} {:>14}\n", c.label, bytes(md.rmap), bytes(md.gfn_track),
                 bytes(md.lpage_info), bytes(md.total()), m->kvm_slots, seed);
    }
    i = 0;
    for (const auto& c : kConfigurations) {
      auto m = measure(c, MemslotMode::Dynamic, region, block, plugged, gpa);
      if (!m) {
        std::cerr << "vmemcheck metadata: " << m.error().message << "\n";
        return 2;
      }
      if (i == 0) {
        fmt::print("\n{:<20} {:>12} {:>12} {:>12} {:>12} {:>8} {:>14}\n",
                   fmt::format("dynamic, {} plugged", format_size(plugged)), "rmap", "gfn_track", "lpage_info",
                   "total", "slots", "saving");
        fmt::print("  ({} memslots of {}; the machine's limit for one device)\n", m->device_memslots,
                   format_size(m->slot_size));
      }
      const SlotMetadata& md = m->metadata;
      const uint64_t static_total = statics[i++]->metadata.total();
      const std::string saving = md.total() == 0 ? "all" : fmt::format("{:.0f}x", static_cast<double>(static_total) / static_cast<double>(md.total()));
      fmt::print("  {:<18} {:>12} {:>12} {:>12} {:>12} {:>8} {:>14}\n", c.label, bytes(md.rmap), bytes(md.gfn_track),
                 bytes(md.lpage_info), bytes(md.total()), m->kvm_slots, saving);
    }
    return 0;
  };
}

}  // namespace vmemcheck::cli
