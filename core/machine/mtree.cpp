#include "mtree.hpp"

#include <fmt/format.h>

namespace vmemcheck {
namespace {

std::string range(uint64_t start, uint64_t last) { return fmt::format("{:016x}-{:016x}", start, last); }

}  // namespace

std::string memdev_name(const VirtioMemDevice& device) {
  return device.config().memdev.empty() ? fmt::format("mem{}", device.handle_id()) : device.config().memdev;
}

std::string to_text(const MtreeRegion& r) {
  std::string line = fmt::format("{:{}}{} (prio {}, {}): ", "", 2 * r.depth, range(r.start, r.last), r.priority, r.type);
  if (!r.alias) return line + r.name;
  return line + fmt::format("alias {} @{} {}", r.name, r.alias->target, range(r.alias->offset, r.alias->last));
}

std::string to_text(const std::vector<MtreeRegion>& regions) {
  std::string out;
  for (const MtreeRegion& region : regions) out += to_text(region) + "\n";
  return out;
}

std::vector<MtreeRegion> device_regions(const VirtioMemDevice& device) {
  const auto& c = device.config();
  const std::string memdev = memdev_name(device);
  const uint64_t last = device.addr() + c.region_size - 1;
  if (c.mode == MemslotMode::Static) return {{0, device.addr(), last, 0, "ram", memdev, std::nullopt}};
  // v1/v2 name their container and aliases as seed 002 shows; v4 (and the
  // fixed-slot policy modelled on it) as seed 004's code does.
  const bool seed002_names = c.mode == MemslotMode::Count || c.mode == MemslotMode::Multiple;
  std::vector<MtreeRegion> regions{
      {0, device.addr(), last, 0, "i/o", seed002_names ? "virtio-mem-memslots" : "virtio-mem", std::nullopt}};
  for (uint64_t i = 0; i < device.layout().count; ++i) {
    if (!device.slot_mapped(i)) continue;
    const SlotMapping s = device.slot(i);
    regions.push_back({1, s.gpa, s.gpa + s.size - 1, 0, "ram",
                       fmt::format("{}{}", seed002_names ? "virtio-mem-memslot-" : "memslot-", i),
                       MtreeRegion::Alias{memdev, s.backing_offset, s.backing_offset + s.size - 1}});
  }
  return regions;
}

std::vector<MtreeRegion> device_memory_regions(const Machine& machine) {
  const MachineConfig& mc = machine.config();
  std::vector<MtreeRegion> regions{{0, mc.device_memory_base, mc.device_memory_base + mc.device_memory_size - 1, 0,
                                    "i/o", "device-memory", std::nullopt}};
  for (const VirtioMemDevice* device : machine.devices()) {
    for (MtreeRegion region : device_regions(*device)) {
      ++region.depth;
      regions.push_back(std::move(region));
    }
  }
  return regions;
}

std::string render_mtree(const Machine& machine) { return to_text(device_memory_regions(machine)); }

}  // namespace vmemcheck
