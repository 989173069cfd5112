#include "qemu_machine.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

constexpr uint64_t kBootRam = 128 * MiB;

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

}  // namespace

uint64_t max_area_end(bool large_addresses) {
  // qemu64: 40 bits, of which QEMU keeps the upper half for the PCI hole and
  // its alignment; 46 bits: the same share.
  return uint64_t{1} << (large_addresses ? 45 : 39);
}

std::optional<std::string> inexpressible(const DeviceConfig& config, uint32_t numa_nodes, uint64_t area_end,
                                         bool large_addresses) {
  if (config.arch != Arch::X86_64) return fmt::format("arch={} (qemu-system-x86_64 only)", name(config.arch));
  if (config.page_size != 4 * KiB) return std::string("a backend page size other than 4K");
  if (numa_nodes > 8) return std::string("more than 8 NUMA nodes");
  if (config.addr && *config.addr < kQemuDeviceMemoryBase) return std::string("a device below 4 GiB");
  const uint64_t limit = max_area_end(large_addresses);
  const uint64_t end = std::max(area_end, config.addr.value_or(kQemuDeviceMemoryBase) + config.region_size);
  if (config.region_size > limit || end > limit) {
    return fmt::format("a device-memory area ending beyond {}", format_size(limit));
  }
  return std::nullopt;
}

std::string hotplug_port(const std::string& device_id) { return device_id + "-port"; }

std::vector<std::string> qemu_arguments(const QemuGeometry& g) { return qemu_arguments(std::span(&g, 1)); }

std::vector<std::string> qemu_arguments(std::span<const QemuGeometry> devices) {
  const QemuGeometry& g = devices.front();
  uint64_t end = 0;
  for (const QemuGeometry& d : devices) end = std::max(end, d.addr.value_or(kQemuDeviceMemoryBase) + d.region_size);
  for (const FurtherDevice& d : g.further) end = std::max(end, d.addr + d.region_size);
  const bool numa = g.numa_nodes > 1 || g.node != 0;
  const uint64_t ram = numa ? 64 * MiB * g.numa_nodes : kBootRam;
  const uint64_t device_area = align_up(std::max(end, kQemuDeviceMemoryBase + g.block_size) - kQemuDeviceMemoryBase, GiB);
  const uint64_t maxmem = ram + (g.device_memory_size ? g.device_memory_size : device_area);
  std::vector<std::string> args{"-display", "none", "-nodefaults", "-machine", g.smm ? fmt::format("q35,smm={}", *g.smm ? "on" : "off") : "q35", "-accel", g.accel,
                                "-m", fmt::format("{}M,maxmem={}M,slots=1", ram / MiB, maxmem / MiB)};
  if (g.large_addresses) args.insert(args.end(), {"-cpu", "max,phys-bits=46,vendor=GenuineIntel"});
  if (numa) {
    for (uint32_t n = 0; n < g.numa_nodes; ++n) {
      args.insert(args.end(), {"-object", fmt::format("memory-backend-ram,id=ram-node{},size=64M", n),
                               "-numa", fmt::format("node,nodeid={},memdev=ram-node{}", n, n)});
    }
  }
  for (size_t i = 0; i < devices.size(); ++i) {
    const QemuGeometry& d = devices[i];
    args.insert(args.end(), {"-object", fmt::format("memory-backend-ram,id={},size={},reserve=off{}", d.memdev,
                                                    d.region_size, d.shared_memory ? ",share=on" : "")});
    const bool default_block = d.qemu_defaults && d.block_size == 2 * MiB;
    std::string device = fmt::format("virtio-mem-pci,id={},memdev={},{}requested-size={},unplugged-inaccessible={}",
                                     d.id, d.memdev, default_block ? "" : fmt::format("block-size={},", d.block_size),
                                     d.requested_size,
                                     d.unplugged_inaccessible ? "on" : d.qemu_defaults && !d.shared_memory ? "auto" : "off");
    if (d.dynamic_memslots) device += fmt::format(",dynamic-memslots={}", *d.dynamic_memslots ? "on" : "off");
    if (d.synchronous_notify) device += ",ioeventfd=off";
    if (d.prealloc) device += ",prealloc=on";
    if (d.late_migration) device += ",x-early-migration=off";
    if (d.node != 0 || numa) device += fmt::format(",node={}", d.node);
    if (d.addr) device += fmt::format(",memaddr={}", *d.addr);
    if (d.hotplug_slot) {
      // Chassis numbers tell a machine's slots apart (QEMU refuses a repeated chassis/slot pair).
      args.insert(args.end(), {"-device", fmt::format("pcie-root-port,id={},bus=pcie.0,chassis={}", hotplug_port(d.id), i + 1)});
      device += ",bus=" + hotplug_port(d.id);
    }
    args.insert(args.end(), {"-device", device});
  }
  // Devices started beside the driven ones and never driven (vmemcheck qemu --accel kvm).
  for (const FurtherDevice& d : g.further) {
    std::string further = fmt::format("virtio-mem-pci,id={},memdev={},block-size={},requested-size={},memaddr={}", d.id,
                                      d.memdev, d.block_size, d.requested_size, d.addr);
    if (d.dynamic_memslots) further += fmt::format(",dynamic-memslots={}", *d.dynamic_memslots ? "on" : "off");
    args.insert(args.end(), {"-object", fmt::format("memory-backend-ram,id={},size={},reserve=off", d.memdev, d.region_size),
                             "-device", further});
  }
  if (!g.kvm_trace.empty()) args.insert(args.end(), {"-trace", "kvm_set_user_memory,file=" + g.kvm_trace});
  return args;
}

std::vector<LaunchOptions::Refusal> refusals(const QemuGeometry& g) { return refusals(std::span(&g, 1)); }

std::vector<LaunchOptions::Refusal> refusals(std::span<const QemuGeometry> devices) {
  std::vector<LaunchOptions::Refusal> out{{"-device virtio-mem-pci", ErrorCode::QemuRefusedDevice}};
  for (const QemuGeometry& d : devices) out.push_back({"-object memory-backend-ram,id=" + d.memdev, ErrorCode::QemuRefusedDevice});
  return out;
}

LaunchOptions machine_probe(const std::string& binary, const MachineConfig& machine, uint32_t phys_bits) {
  std::vector<std::string> args{"-display", "none", "-nodefaults", "-machine", "q35", "-accel", "tcg", "-cpu",
                                fmt::format("max,phys-bits={},vendor=GenuineIntel", phys_bits), "-m",
                                fmt::format("{}M,maxmem={}B,slots=1", kBootRam / MiB, kBootRam + machine.device_memory_size)};
  return {binary, std::move(args), 20000, {{"phys-bits too low", ErrorCode::PhysBits}}};
}

}  // namespace vmemcheck::qemu
