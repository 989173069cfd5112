#include "mtree.hpp"

#include <fmt/format.h>

namespace vmemcheck {
namespace {

std::string range(uint64_t start, uint64_t size) { return fmt::format("{:016x}-{:016x}", start, start + size - 1); }

std::string memdev_name(const VirtioMemDevice& device) {
  return device.config().memdev.empty() ? fmt::format("mem{}", device.handle_id()) : device.config().memdev;
}

}  // namespace

std::string render_mtree(const Machine& machine) {
  const MachineConfig& mc = machine.config();
  std::string out = fmt::format("{} (prio 0, i/o): device-memory\n", range(mc.device_memory_base, mc.device_memory_size));
  for (const VirtioMemDevice* device : machine.devices()) {
    const auto& c = device->config();
    const std::string memdev = memdev_name(*device);
    if (c.mode == MemslotMode::Static) {
      out += fmt::format("  {} (prio 0, ram): {}\n", range(device->addr(), c.region_size), memdev);
      continue;
    }
    // v1/v2 name their container and aliases as seed 002 shows; v4 (and the
    // fixed-slot policy modelled on it) as seed 004's code does.
    const bool seed002_names = c.mode == MemslotMode::Count || c.mode == MemslotMode::Multiple;
    out += fmt::format("  {} (prio 0, i/o): {}\n", range(device->addr(), c.region_size),
                       seed002_names ? "virtio-mem-memslots" : "virtio-mem");
    for (uint64_t i = 0; i < device->layout().count; ++i) {
      if (!device->slot_mapped(i)) continue;
      const SlotMapping s = device->slot(i);
      out += fmt::format("    {} (prio 0, ram): alias {}{} @{} {}\n", range(s.gpa, s.size),
                         seed002_names ? "virtio-mem-memslot-" : "memslot-", i, memdev,
                         range(s.backing_offset, s.size));
    }
  }
  return out;
}

}  // namespace vmemcheck
