#include "machine.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "decision.hpp"
#include "units.hpp"

namespace vmemcheck {

uint64_t max_used_gpa(const MachineConfig& config) {
  const uint64_t region_end = config.device_memory_base + config.device_memory_size + kMemorySlotAlignRoom;
  return decision::align_up<Word>(region_end, GiB) + kQ35PciHole64Size - 1;
}

Status check_phys_bits(const MachineConfig& config, uint32_t phys_bits) {
  const uint64_t limit = (uint64_t{1} << phys_bits) - 1;
  const uint64_t used = max_used_gpa(config);
  if (limit < used) {
    return Error{fmt::format("Address space limit {:#x} < {:#x} phys-bits too low ({})", limit, used, phys_bits),
                 ErrorCode::PhysBits};
  }
  return ok_status();
}

Machine::Machine(MachineConfig config, KvmVm& vm, HostMemory& host)
    : config_(config),
      vm_(vm),
      kvm_backend_(vm, host, {config.smm, config.reserved_memslots, 0}),
      faults_(kvm_backend_) {}

// Devices unmap their slots through the backends, so they go first.
Machine::~Machine() {
  for (auto& device : devices_) {
    const DeviceHandle handle = device->handle_id();
    device.reset();
    faults_.detach(handle);
  }
}

VirtioMemDevice* Machine::find(const std::string& id) const {
  for (const auto& device : devices_) {
    if (device->config().id == id) return device.get();
  }
  return nullptr;
}

void Machine::list_devices() {
  device_list_.clear();
  for (const auto& device : devices_) device_list_.push_back(device.get());
}

uint64_t Machine::used_region_size() const {
  uint64_t used = 0;
  for (const auto& device : devices_) used += device->config().region_size;
  return used;
}

MemslotBudget Machine::budget() const {
  MemslotBudget b;
  for (const auto& device : devices_) {
    b.required += device->layout().count;
    b.used += device->mapped_slot_count();
  }
  b.max = vm_.max_memslots();
  b.free = kvm_backend_.free_slots();
  // vhost sees every memslot the VM has: other consumers' and memory devices'.
  const uint64_t vhost_used = config_.reserved_memslots + b.used;
  for (const auto& vhost : vhosts_) {
    b.max = std::min<uint64_t>(b.max, vhost.max_memslots);
    b.free = std::min<uint64_t>(b.free, vhost.max_memslots > vhost_used ? vhost.max_memslots - vhost_used : 0);
  }
  return b;
}

uint64_t Machine::auto_memslot_limit(uint64_t size) const {
  const MemslotBudget b = budget();
  return decision::auto_memslot_limit<Word>(b.max, b.free, b.required, b.used,
                                            config_.device_memory_size, used_region_size(), size,
                                            kMemslotSoftLimit, kMemslotSafeMax);
}

// The limit a new device of this configuration gets, after checking that its
// memslots fit next to those already promised to other memory devices.
Result<uint64_t> Machine::memslot_limit_for(const DeviceConfig& config) const {
  auto policy = make_memslot_policy(config);
  const uint64_t limit = policy->decides_automatically() ? auto_memslot_limit(config.region_size) : 1;
  const MemslotLayout layout = policy->layout(config.region_size, config.block_size, limit);
  const uint64_t memslots = layout.count;
  // QEMU does not split a memslot for KVM on x86: a larger one cannot be mapped.
  if (layout.slot_size > kKvmMaxSlotBytes) {
    return Error{fmt::format("device '{}': its memslots of {} exceed KVM's maximum memslot size of {}",
                             config.id, format_size(layout.slot_size), format_size(kKvmMaxSlotBytes)),
                 ErrorCode::MemslotBudget};
  }
  const MemslotBudget b = budget();
  if (b.free < memslots + b.reserved()) {
    return Error{fmt::format("device '{}': insufficient free memslots ({}) for the device "
                             "(requires {}, reserved {})", config.id, b.free, memslots, b.reserved()),
                 ErrorCode::MemslotBudget};
  }
  return limit;
}

bool Machine::has_auto_multi_memslot_device() const {
  return std::any_of(devices_.begin(), devices_.end(), [](const auto& device) {
    return device->policy().decides_automatically() && device->layout().count > 1;
  });
}

Result<uint64_t> Machine::assign_address(const DeviceConfig& config) const {
  const uint64_t base = config_.device_memory_base;
  const uint64_t end = base + config_.device_memory_size;
  const uint64_t size = config.region_size;
  std::vector<std::pair<uint64_t, uint64_t>> taken;  // [start, end)
  for (const auto& device : devices_) {
    taken.emplace_back(device->addr(), device->addr() + device->config().region_size);
  }
  std::sort(taken.begin(), taken.end());
  if (config.addr) {
    const uint64_t addr = *config.addr;
    if (addr < base || addr > end || size > end - addr) {
      return Error{fmt::format("device '{}': [{:#x}, {:#x}) lies outside the device-memory area "
                               "[{:#x}, {:#x})", config.id, addr, addr + size, base, end)};
    }
    for (const auto& [start, stop] : taken) {
      if (addr < stop && start < addr + size) {
        return Error{fmt::format("device '{}': [{:#x}, {:#x}) overlaps another memory device at "
                                 "[{:#x}, {:#x})", config.id, addr, addr + size, start, stop)};
      }
    }
    return addr;
  }
  // First fit, aligned as the device must be (placement_alignment).
  const uint64_t align = placement_alignment(config);
  uint64_t candidate = decision::align_up<Word>(base, align);
  for (const auto& [start, stop] : taken) {
    if (candidate + size <= start) break;
    candidate = std::max(candidate, decision::align_up<Word>(stop, align));
  }
  if (candidate > end || size > end - candidate) {
    return Error{fmt::format("device '{}': no free {:#x}-byte range in the device-memory area "
                             "[{:#x}, {:#x})", config.id, size, base, end)};
  }
  return candidate;
}

Result<VirtioMemDevice*> Machine::add_device(DeviceConfig config) {
  if (find(config.id)) return Error{fmt::format("device '{}' already exists", config.id)};
  if (auto valid = validate(config, config_.numa_nodes); !valid) return valid.error();
  const uint64_t space_left = config_.device_memory_size - used_region_size();
  if (config.region_size > space_left) {
    return Error{fmt::format("device '{}': not enough space: {:#x} bytes of the {:#x}-byte "
                             "device-memory area are in use, the device needs {:#x}",
                             config.id, used_region_size(), config_.device_memory_size,
                             config.region_size)};
  }
  const auto limit = memslot_limit_for(config);
  if (!limit) return limit.error();
  auto addr = assign_address(config);
  if (!addr) return addr.error();
  config.addr = *addr;
  if (auto attached = faults_.attach(next_handle_, config.region_size); !attached) {
    return Error{fmt::format("device '{}': backing memory: {}", config.id, attached.error().message),
                 attached.error().code};
  }
  auto device = VirtioMemDevice::create(config, *limit, next_handle_, faults_, config_.numa_nodes);
  if (!device) {
    faults_.detach(next_handle_);
    return device.error();
  }
  ++next_handle_;
  devices_.push_back(std::move(*device));
  list_devices();
  return devices_.back().get();
}

Status Machine::remove_device(const std::string& id) {
  const VirtioMemDevice* device = find(id);
  if (!device) return Error{fmt::format("no device '{}'", id)};
  // QEMU 10.0 refuses a legacy device, whose unplugged memory the guest
  // may still read, first (docs/qemu.md, "Decided by QEMU").
  if (!device->config().unplugged_inaccessible) {
    return Error{fmt::format("device '{}' cannot be removed: unplugged-inaccessible is off", id)};
  }
  if (device->plugged_size() != 0 || device->requested_size() != 0) {
    return Error{fmt::format("device '{}' cannot be removed: plugged size {:#x}, requested size "
                             "{:#x} (both must be 0)", id, device->plugged_size(), device->requested_size())};
  }
  return eject_device(id);
}

Status Machine::eject_device(const std::string& id) {
  const auto it = std::find_if(devices_.begin(), devices_.end(),
                               [&](const auto& device) { return device->config().id == id; });
  if (it == devices_.end()) return Error{fmt::format("no device '{}'", id)};
  const DeviceHandle handle = (*it)->handle_id();
  devices_.erase(it);
  list_devices();
  faults_.detach(handle);
  return ok_status();
}

Status Machine::add_vhost(VhostBackend vhost) {
  if (vhost.max_memslots < kMemslotSafeMax && has_auto_multi_memslot_device()) {
    return Error{fmt::format("vhost '{}' supports only {} memslots, but a memory device decided "
                             "automatically on several memslots (vhost needs at least {})",
                             vhost.name, vhost.max_memslots, kMemslotSafeMax)};
  }
  const MemslotBudget b = budget();
  const uint64_t needed = config_.reserved_memslots + b.used + b.reserved();
  if (vhost.max_memslots < needed) {
    return Error{fmt::format("vhost '{}': its memslot limit {} is below the {} memslots in use or "
                             "reserved", vhost.name, vhost.max_memslots, needed)};
  }
  vhosts_.push_back(std::move(vhost));
  return ok_status();
}

Status Machine::migrate_device(const std::string& id, DeviceConfig destination, const StreamEdit& in_transit) {
  const auto it = std::find_if(devices_.begin(), devices_.end(),
                               [&](const auto& device) { return device->config().id == id; });
  if (it == devices_.end()) return Error{fmt::format("no device '{}'", id)};
  destination.id = id;
  if (!destination.addr) destination.addr = (*it)->addr();
  if (auto valid = validate(destination, config_.numa_nodes); !valid) return valid.error();
  // The destination is a fresh VM with the same RAM contents (the backing
  // stays attached): the source's memslots go away with it, the destination
  // decides its own with the limit the machine offers a device of its size.
  const auto position = it - devices_.begin();
  std::unique_ptr<VirtioMemDevice> source = std::move(*it);
  devices_.erase(it);
  list_devices();
  const MigrationState saved = source->save();
  MigrationState sent = saved;
  if (in_transit) in_transit(sent);
  const DeviceConfig source_config = source->config();
  const uint64_t source_limit = source->layout().count;
  const DeviceHandle handle = source->handle_id();
  const bool source_busy = source->busy();
  source.reset();
  const auto recreate = [&](const DeviceConfig& config, uint64_t limit, const MigrationState& state,
                            VirtioMemDevice::LoadInto into) -> Status {
    auto device = VirtioMemDevice::create(config, limit, handle, faults_, config_.numa_nodes);
    if (!device) return device.error();
    if (auto loaded = (*device)->load(state, into); !loaded) return loaded;
    devices_.insert(devices_.begin() + position, std::move(*device));
    list_devices();
    return ok_status();
  };
  const auto limit = memslot_limit_for(destination);
  const Status migrated =
      limit ? recreate(destination, *limit, sent, VirtioMemDevice::LoadInto::Destination) : Status{limit.error()};
  if (!migrated) {
    // A failed incoming migration leaves the source running as it was.
    faults_.disarm_all();
    if (auto restored = recreate(source_config, source_limit, saved, VirtioMemDevice::LoadInto::ResumedSource);
        !restored) {
      kvm_backend_.detach(handle);
      return Error{fmt::format("{}; restoring the source failed too, device '{}' is gone: {}",
                               migrated.error().message, id, restored.error().message)};
    }
    devices_[position]->set_busy(source_busy);
    return migrated;
  }
  return ok_status();
}

void Machine::system_reset() {
  for (const auto& device : devices_) device->system_reset();
}

}  // namespace vmemcheck
