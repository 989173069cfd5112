#include "random_scenario.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "units.hpp"

namespace vmemcheck::scenario {
namespace {
constexpr std::array kModes{MemslotMode::Static, MemslotMode::Count, MemslotMode::Multiple, MemslotMode::Dynamic,
                            MemslotMode::Fixed};
}  // namespace

void ScenarioBuilder::add_machine() {
  ConfigureMachine machine;
  machine.machine.smm = chance(4);
  machine.machine.numa_nodes = 1 + below(2);
  numa_nodes_ = machine.machine.numa_nodes;
  machine.machine.device_memory_size = 64 * TiB;
  if (chance(8)) machine.kvm.max_memslots = 16 + below(600);
  // Rarely a guest whose physical addresses end inside the device-memory
  // area (at 5 GiB): KVM refuses the memslots beyond.
  if (chance(16)) machine.kvm.phys_bits = 33 + static_cast<uint32_t>(below(6));
  // Now and then other consumers hold most of a KVM with just over 509
  // memslots, in a small device-memory area that a few devices fill: then
  // the free memslots, not the soft limit, bound the automatic devices, and
  // each one's share of the area is worth more than one memslot.
  if (chance(8)) {
    machine.kvm.max_memslots = 509 + static_cast<uint32_t>(below(128));
    machine.machine.reserved_memslots = 8 + static_cast<uint32_t>(below(machine.kvm.max_memslots - 8));
    machine.machine.device_memory_size = (1 + below(64)) * 16 * GiB;
  }
  add(machine);
}

Scenario ScenarioBuilder::take(std::string name) {
  Scenario s = std::move(scenario_);
  s.name = std::move(name);
  scenario_ = {};
  return s;
}

AddDevice& ScenarioBuilder::add_device(const std::string& id) {
  AddDevice d;
  d.config.id = id;
  d.config.memdev = "";
  d.config.block_size = MiB << below(chance(4) ? 11 : 3);  // 1 MiB .. 1 GiB, mostly <= 4 MiB
  uint64_t blocks = 1 + (chance(3) ? below(64) : below(options_.max_region_blocks));
  if (options_.max_region_size != 0) {
    blocks = std::max<uint64_t>(1, std::min(blocks, options_.max_region_size / d.config.block_size));
  }
  d.config.region_size = blocks * d.config.block_size;
  d.config.requested_size = below(blocks + 1) / (chance(2) ? 4 : 1) * d.config.block_size;
  d.config.mode = pick(kModes);
  // Dynamic memslots and Firecracker need unplugged-inaccessible (break_config tries without).
  const bool needs_inaccessible = d.config.mode == MemslotMode::Dynamic || d.config.mode == MemslotMode::Fixed;
  d.config.unplugged_inaccessible = needs_inaccessible || chance(2);
  d.config.acpi = !chance(4);
  d.config.persistent_suspend = chance(4);
  if (d.config.mode == MemslotMode::Count) d.config.memslots = static_cast<uint32_t>(1 + below(chance(2) ? 8 : 1024));
  if (d.config.mode == MemslotMode::Fixed) d.config.fixed_slot_size = d.config.block_size * (uint64_t{1} << below(8));
  d.config.node = static_cast<uint16_t>(below(numa_nodes_));
  d.config.arch = pick(std::array{Arch::X86_64, Arch::X86_64, Arch::Arm64, Arch::S390x});
  if (chance(16)) break_config(d.config);
  scenario_.steps.push_back({d, std::nullopt, 0});
  shapes_.push_back({id, d.config.region_size, d.config.block_size, std::max(d.config.fixed_slot_size, GiB),
                     d.config});
  return std::get<AddDevice>(scenario_.steps.back().op);
}

// One rule of DESIGN §6 "Device configuration errors" (or of the memslot
// options) broken, so the device must be refused.
void ScenarioBuilder::break_config(DeviceConfig& c) {
  switch (below(16)) {
    case 0: c.block_size += MiB; break;                     // not a power of two
    case 1: c.block_size = MiB >> (1 + below(8)); break;    // below 1 MiB
    case 2: c.page_size = c.block_size << (1 + below(3)); break;  // block below the page size
    case 3: c.page_size = 3 * 4 * KiB; break;              // page size not a power of two
    case 4: c.region_size += c.block_size / 2; break;
    case 5: c.region_size = uint64_t{1} << (53 + below(8)); break;  // beyond 52 bits: 8P .. 1E
    case 6: c.requested_size = c.block_size / 2 + below(2) * c.region_size; break;  // unaligned
    case 7: c.requested_size = c.region_size + c.block_size; break;
    case 8: c.addr = 0x140000000 + c.block_size / 2; break;  // unaligned
    case 9: c.addr = 0x140000000 + below(3) * c.block_size; break;  // may overlap the first device
    case 10: c.addr = chance(2) ? uint64_t{1} << 52 : 0x140000000 - c.block_size; break;  // beyond 52 bits / the area
    case 11: c.node = static_cast<uint16_t>(numa_nodes_ + below(2)); break;
    case 12:
      c.mode = MemslotMode::Dynamic;
      c.unplugged_inaccessible = false;
      break;
    case 13:  // outside 1..1024, or given outside mode=count
      c.memslots = c.mode == MemslotMode::Count ? static_cast<uint32_t>(below(2) * 1025) : 2;
      break;
    case 14:  // not a non-zero multiple of the block size, or given outside mode=fixed
      c.fixed_slot_size = c.mode == MemslotMode::Fixed ? c.block_size * below(2) + c.block_size / 2 : GiB;
      break;
    default:
      c.mode = MemslotMode::Fixed;
      c.fixed_slot_size = c.block_size;
      c.unplugged_inaccessible = false;
      break;
  }
}

void ScenarioBuilder::add_device(const DeviceConfig& config) {
  scenario_.steps.push_back({AddDevice{config}, std::nullopt, 0});
  shapes_.push_back({config.id, config.region_size, config.block_size, std::max(config.fixed_slot_size, GiB), config});
}

// Device-relative addresses near the interesting edges.
Address ScenarioBuilder::address(const DeviceShape& d) {
  if (!recent_addresses_.empty() && chance(3)) return pick(recent_addresses_);
  const Address fresh = fresh_address(d);
  if (recent_addresses_.size() == 4) recent_addresses_.erase(recent_addresses_.begin());
  recent_addresses_.push_back(fresh);
  return fresh;
}

Address ScenarioBuilder::fresh_address(const DeviceShape& d) {
  uint64_t offset = 0;
  switch (below(6)) {
    case 0: offset = below(d.region / d.block) * d.block; break;
    case 1: offset = below(d.region / d.slot_hint + 1) * d.slot_hint; break;  // a slot start
    case 2: offset = below(d.region / d.slot_hint + 1) * d.slot_hint - d.block; break;  // before a slot edge
    case 3: offset = d.region - d.block * (1 + below(4)); break;  // region end
    case 4: offset = below(d.region); break;  // often unaligned
    default: offset = below(64) * d.block; break;  // the start, where plugs accumulate
  }
  // Block-aligned, so that the range check's wrap test is what refuses them
  // (an unaligned one would fail the alignment test first).
  if (chance(64)) return {(~uint64_t{0} - below(4) * d.block) & ~(d.block - 1), false};  // wraps
  return {offset, true};
}

uint16_t ScenarioBuilder::nb_blocks(const DeviceShape& d) {
  switch (below(5)) {
    case 0: return 0;
    case 1: return static_cast<uint16_t>(std::min<uint64_t>(65535, d.slot_hint / d.block + below(3)));
    case 2: return static_cast<uint16_t>(below(65536));
    default: return static_cast<uint16_t>(1 + below(8));
  }
}

uint64_t ScenarioBuilder::size_for(const DeviceShape& d) {
  const uint64_t blocks = d.region / d.block;
  if (chance(16)) return below(d.region + 1);  // maybe unaligned: refused
  if (chance(32)) return d.region + d.block * (1 + below(4));  // beyond the region: refused
  return below(blocks + 1) * d.block;
}

void ScenarioBuilder::add_guest_data_round_trip(const DeviceShape& d) {
  const Address block{address(d).value / d.block * d.block, true};
  const Address word{block.value + 8 * below(4), true};
  if (chance(4)) {
    // Inside or outside the usable region, plugged or not: the destination
    // keeps plugged blocks and discards the rest.
    add(GuestAccess{d.id, word, below(1u << 30) + 1});
    add(Migrate{d.id, {{"mode", std::string(name(pick(kModes)))}}});
    add(GuestAccess{d.id, word, std::nullopt});
    return;
  }
  add(GuestRequest{d.id, RequestType::Plug, block, 1});
  add(GuestAccess{d.id, word, below(1u << 30) + 1});
  add(GuestRequest{d.id, RequestType::Unplug, block, 1});
  if (chance(4)) add(chance(2) ? Op{SystemReset{}} : Op{GuestAccess{d.id, word, below(1u << 30) + 1}});
  add(GuestRequest{d.id, RequestType::Plug, block, 1});
  add(GuestAccess{d.id, word, std::nullopt});
}

void ScenarioBuilder::add_remove(const DeviceShape& d) {
  if (chance(4)) {
    add(Resize{d.id, 0});
    add(GuestRequest{d.id, RequestType::UnplugAll, {}, 0});
  }
  add(RemoveDevice{d.id});
  // Refused (a duplicate id) when the remove was: the device is still there.
  add(AddDevice{d.config});
}

uint64_t ScenarioBuilder::driver_features() {
  uint64_t features = below(8);  // ACPI_PXM, UNPLUGGED_INACCESSIBLE, PERSISTENT_SUSPEND
  if (chance(4)) features |= uint64_t{1} << (3 + below(21));  // a device bit nobody offers
  return features;
}

void ScenarioBuilder::add_op() {
  const DeviceShape& d = pick(shapes_);
  switch (below(64)) {
    case 0: case 1: return add_guest_data_round_trip(d);
    case 2: return add_remove(d);
    case 3: return add(NegotiateFeatures{d.id, driver_features()});
    default: break;
  }
  const uint64_t choice = below(100);
  if (choice < 30) add(GuestRequest{d.id, RequestType::Plug, address(d), nb_blocks(d)});
  else if (choice < 50) add(GuestRequest{d.id, RequestType::Unplug, address(d), nb_blocks(d)});
  else if (choice < 58) add(GuestRequest{d.id, RequestType::State, address(d), nb_blocks(d)});
  else if (choice < 62) add(GuestRequest{d.id, RequestType::UnplugAll, {}, 0});
  else if (choice < 72) add(Resize{d.id, size_for(d)});
  else if (choice < 74) add(SystemReset{});
  else if (choice < 77) add(SetBusy{d.id, chance(2)});
  else if (choice < 82) {
    add(InjectFault{pick(std::array{FaultKind::Map, FaultKind::Populate, FaultKind::Discard}), d.id,
                    static_cast<uint32_t>(below(3))});
  } else if (choice < 85) {
    Migrate m{d.id, {}};
    m.overrides.emplace_back("mode", std::string(name(pick(kModes))));
    // Now and then a migration the destination must refuse, or one a backend
    // fault interrupts: the source must carry on unchanged.
    switch (below(8)) {
      case 0: m.overrides.emplace_back("stream", std::string(pick(std::to_array(kStreamEdits)))); break;
      case 1: m.overrides.emplace_back("fail", chance(2) ? "map" : "discard"); break;
      case 2: m.overrides.emplace_back("node", fmt::format("{}", below(numa_nodes_ + 1))); break;
      default: break;
    }
    add(m);
  } else if (choice < 87) {
    RawRequest raw{d.id, static_cast<uint16_t>(below(6)), address(d), nb_blocks(d), kRequestSize, kResponseSize};
    if (chance(2)) raw.readable = below(kRequestSize + 8);
    if (chance(2)) raw.writable = below(kResponseSize + 4);
    add(raw);
  } else if (choice < 89) {
    add(VirtioReset{d.id, chance(2)});
  } else if (choice < 95) {
    Address a = address(d);
    a.value &= ~uint64_t{7};
    add(GuestAccess{d.id, a, below(1u << 30) + 1});
  } else {
    Address a = address(d);
    a.value &= ~uint64_t{7};
    add(GuestAccess{d.id, a, std::nullopt});
  }
}

Scenario random_scenario(uint64_t seed, const RandomScenarioOptions& options) {
  SeededChoices choices(seed);
  ScenarioBuilder builder(choices, options);
  builder.add_machine();
  const uint64_t devices = 1 + builder.below(3);
  for (uint64_t i = 0; i < devices; ++i) builder.add_device(fmt::format("vmem{}", i));
  for (uint64_t i = 0; i < options.ops; ++i) builder.add_op();
  return builder.take(fmt::format("random-{}", seed));
}

}  // namespace vmemcheck::scenario
