#include "device_config.hpp"

#include <algorithm>
#include <bit>

#include <fmt/format.h>

#include "wire.hpp"

namespace vmemcheck {

uint64_t usable_extent(Arch arch) {
  // QEMU's VIRTIO_MEM_USABLE_EXTENT: twice the Linux memory-block size of the arch.
  return arch == Arch::Arm64 ? 2 * 512 * MiB : 2 * 128 * MiB;
}

uint64_t offered_features(const DeviceConfig& config) {
  uint64_t features = 0;
  if (config.acpi) features |= kFeatureAcpiPxm;
  if (config.unplugged_inaccessible) features |= kFeatureUnpluggedInaccessible;
  if (config.persistent_suspend) features |= kFeaturePersistentSuspend;
  return features;
}

Result<uint64_t> negotiate_features(const DeviceConfig& config, uint64_t driver_features) {
  const uint64_t negotiated = driver_features & offered_features(config);
  if ((offered_features(config) & kFeatureUnpluggedInaccessible) && !(negotiated & kFeatureUnpluggedInaccessible)) {
    return Error{fmt::format("device '{}': the driver does not accept VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE",
                             config.id)};
  }
  return negotiated;
}

uint64_t placement_alignment(const DeviceConfig& config) {
  return std::max(config.block_size, kQemuRamBackendAlign);
}

Status validate(const DeviceConfig& c, uint32_t numa_nodes) {
  const auto fail = [&](std::string message) -> Status {
    return Error{fmt::format("device '{}': {}", c.id, message)};
  };
  if (c.page_size == 0 || !std::has_single_bit(c.page_size)) {
    return fail(fmt::format("backend page size {} is not a power of two", c.page_size));
  }
  if (!std::has_single_bit(c.block_size)) {
    return fail(fmt::format("block-size {:#x} is not a power of two", c.block_size));
  }
  if (c.block_size < MiB) {
    return fail(fmt::format("block-size {} is below the minimum of 1M", format_size(c.block_size)));
  }
  if (c.block_size < c.page_size) {
    return fail(fmt::format("block-size {} is below the backend page size {}",
                            format_size(c.block_size), format_size(c.page_size)));
  }
  if (c.region_size == 0) return fail("region size (memdev size) is 0");
  if (c.region_size % c.block_size != 0) {
    return fail(fmt::format("region size {:#x} is not a multiple of block-size {}", c.region_size,
                            format_size(c.block_size)));
  }
  // The message is QEMU's, as 7.2 and 10.0 print it.
  if (c.region_size % kQemuRamBackendAlign != 0) {
    return fail(fmt::format("backend memory size must be multiple of {:#x}", kQemuRamBackendAlign));
  }
  if (c.region_size > kMaxGuestPhysical) {
    return fail(fmt::format("region size {:#x} exceeds the 52-bit guest-physical address space",
                            c.region_size));
  }
  if (c.requested_size % c.block_size != 0) {
    return fail(fmt::format("requested-size {:#x} is not a multiple of block-size {}",
                            c.requested_size, format_size(c.block_size)));
  }
  if (c.requested_size > c.region_size) {
    return fail(fmt::format("requested-size {:#x} exceeds the region size {:#x}", c.requested_size,
                            c.region_size));
  }
  if (c.addr) {
    if (*c.addr % c.block_size != 0) {
      return fail(fmt::format("addr {:#x} is not a multiple of block-size {}", *c.addr,
                              format_size(c.block_size)));
    }
    if (*c.addr % placement_alignment(c) != 0) {
      return fail(fmt::format("address must be aligned to {:#x} bytes", placement_alignment(c)));
    }
    if (*c.addr > kMaxGuestPhysical - c.region_size) {
      return fail(fmt::format("addr {:#x} + size {:#x} ends beyond the 52-bit guest-physical "
                              "address space", *c.addr, c.region_size));
    }
  }
  if (c.node >= numa_nodes) {
    return fail(fmt::format("node {} does not exist (the machine has {} NUMA node{})", c.node,
                            numa_nodes, numa_nodes == 1 ? "" : "s"));
  }
  if (c.mode == MemslotMode::Dynamic && !c.unplugged_inaccessible) {
    return fail("'dynamic-memslots' set to 'on' requires 'unplugged-inaccessible' to be 'on'");
  }
  // Options of another mode are refused rather than silently ignored.
  if (c.mode != MemslotMode::Count && c.memslots != 1) {
    return fail(fmt::format("memslots={} applies only to mode=count", c.memslots));
  }
  if (c.mode != MemslotMode::Fixed && c.fixed_slot_size != kDefaultFixedSlotSize) {
    return fail(fmt::format("slot-size={} applies only to mode=fixed", format_size(c.fixed_slot_size)));
  }
  if (c.mode == MemslotMode::Count && (c.memslots == 0 || c.memslots > kMaxUserMemslots)) {
    return fail(fmt::format("memslots={} is outside 1..{}", c.memslots, kMaxUserMemslots));
  }
  if (c.mode == MemslotMode::Fixed) {
    if (c.fixed_slot_size == 0 || c.fixed_slot_size % c.block_size != 0) {
      return fail(fmt::format("slot-size {:#x} is not a non-zero multiple of block-size {}",
                              c.fixed_slot_size, format_size(c.block_size)));
    }
    if (!c.unplugged_inaccessible) {
      return fail("fixed-size slots map only plugged memory and require 'unplugged-inaccessible' to be 'on'");
    }
  }
  return ok_status();
}

std::string_view name(MemslotMode mode) {
  switch (mode) {
    case MemslotMode::Static: return "static";
    case MemslotMode::Count: return "count";
    case MemslotMode::Multiple: return "multiple";
    case MemslotMode::Dynamic: return "dynamic";
    case MemslotMode::Fixed: return "fixed";
  }
  return "?";
}

std::optional<MemslotMode> parse_memslot_mode(std::string_view text) {
  for (auto mode : {MemslotMode::Static, MemslotMode::Count, MemslotMode::Multiple,
                    MemslotMode::Dynamic, MemslotMode::Fixed}) {
    if (name(mode) == text) return mode;
  }
  return std::nullopt;
}

std::string_view name(Arch arch) {
  switch (arch) {
    case Arch::X86_64: return "x86_64";
    case Arch::Arm64: return "arm64";
    case Arch::S390x: return "s390x";
  }
  return "?";
}

std::optional<Arch> parse_arch(std::string_view text) {
  for (auto arch : {Arch::X86_64, Arch::Arm64, Arch::S390x}) {
    if (name(arch) == text) return arch;
  }
  return std::nullopt;
}

}  // namespace vmemcheck
