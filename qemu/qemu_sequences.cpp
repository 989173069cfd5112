#include "qemu_sequences.hpp"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "qemu_machine.hpp"
#include "random_scenario.hpp"
#include "units.hpp"

namespace vmemcheck::qemu {
namespace {

using namespace scenario;

// The ops the generator keeps: those QEMU runs. `busy` holds a migration
// before its switchover on QEMU (tens of milliseconds).
bool expressible(const Op& op) {
  return std::holds_alternative<GuestRequest>(op) || std::holds_alternative<RawRequest>(op) ||
         std::holds_alternative<Resize>(op) || std::holds_alternative<SystemReset>(op) ||
         std::holds_alternative<VirtioReset>(op) || std::holds_alternative<SetBusy>(op);
}

// A device of geometry `g` made invalid in one way the core refuses
// (device_config.cpp's validate) and QEMU must refuse at start too: each
// reaches one of QEMU's refusals (hw/virtio/virtio-mem.c).
std::optional<DeviceConfig> invalid_device(DeviceConfig c, uint64_t variant) {
  switch (variant) {
    case 0:  // virtio_mem_set_block_size: "has to be a power of two"
      c.block_size = 3 * MiB;
      c.requested_size = 0;
      break;
    case 1:  // virtio_mem_set_block_size: "has to be at least 0x100000"
      c.block_size = 512 * KiB;
      break;
    case 2:  // realize: "'requested-size' property has to be multiples of 'block-size'"
      c.requested_size = c.requested_size >= c.block_size ? c.requested_size - c.block_size / 2 : c.block_size / 2;
      break;
    case 3: {  // realize: "memdev size has to be multiples of 'block-size'" (a multiple of 2 MiB, so
               // memory_device_pre_plug takes it; with dynamic memslots its decision assumes one memslot)
      c.block_size = std::max(c.block_size, 4 * MiB);
      const uint64_t blocks = std::max<uint64_t>(c.region_size / c.block_size, 1);
      c.region_size = blocks * c.block_size + 2 * MiB;
      c.requested_size = std::min(c.requested_size / c.block_size, blocks) * c.block_size;
      break;
    }
    case 4:  // realize: "'node' property has value '1', which exceeds the number of numa nodes: 1"
      c.node = 1;
      break;
    case 5:  // realize: "'dynamic-memslots' property set to 'on' requires 'unplugged-inaccessible' to be 'on'"
      if (c.mode != MemslotMode::Dynamic) return std::nullopt;
      c.unplugged_inaccessible = false;
      break;
    default:
      return std::nullopt;
  }
  return c;
}

}  // namespace

// The fuzz geometries (cycled by seed; `requested` is where a sequence
// starts, resizes move it). Each dynamic one has an area that gives it
// several memslots, and one has a short last memslot.
std::vector<FuzzGeometry> qemu_geometries(const QemuDeviceProfile& profile) {
  static const std::vector<FuzzGeometry> all = {
      {4 * GiB, 2 * MiB, 1 * GiB, true, MemslotMode::Dynamic, 8 * GiB, false},  // 4 x 1 GiB
      {4 * GiB, 2 * MiB, 0, true, MemslotMode::Dynamic, 5 * GiB, false},  // nothing requested: nothing usable
      {512 * MiB, 4 * MiB, 64 * MiB, false, MemslotMode::Static, 2 * GiB, false},  // legacy: unplugged stays accessible
      {8 * GiB, 128 * MiB, 1 * GiB, true, MemslotMode::Dynamic, 16 * GiB, false},  // 8 x 1 GiB
      {3584 * MiB, 2 * MiB, 2 * GiB, true, MemslotMode::Dynamic, 4 * GiB, false},  // 3 x 1 GiB and 512 MiB
      {256 * MiB, 1 * MiB, 256 * MiB, true, MemslotMode::Static, 2 * GiB, false},  // the smallest block, all requested
      {2 * GiB, 1 * GiB, 0, false, MemslotMode::Static, 4 * GiB, false},  // 1 GiB blocks, nothing requested
      {1 * TiB, 2 * MiB, 1 * GiB, true, MemslotMode::Dynamic, 1100 * GiB, true},  // 238 x 4406 MiB
  };
  std::vector<FuzzGeometry> runnable;
  for (const auto& g : all) {
    if (profile.dynamic_memslots || !g.needs_dynamic_memslots) runnable.push_back(g);
  }
  return runnable;
}

Scenario random_qemu_scenario(uint64_t seed, const FuzzGeometry& g, uint64_t ops) {
  SeededChoices choices(seed);
  ScenarioBuilder builder(choices, {});
  ConfigureMachine machine;
  machine.machine.device_memory_base = kQemuDeviceMemoryBase;
  machine.machine.device_memory_size = g.device_memory;
  builder.add(machine);
  DeviceConfig config;
  config.id = "vmem0";
  config.region_size = g.region;
  config.block_size = g.block;
  config.requested_size = g.requested;
  config.unplugged_inaccessible = g.unplugged_inaccessible;
  config.mode = g.mode;
  // One sequence in four first starts an invalid device, which both must
  // refuse; its own choices, so the rest of the sequence is as without it.
  SeededChoices invalid_choices(seed * 0x9e3779b97f4a7c15 + 23);
  if (invalid_choices.below(4) == 0) {
    if (auto invalid = invalid_device(config, invalid_choices.below(6))) builder.add(AddDevice{*invalid});
  }
  builder.add_device(config);
  // Half the ops from the shared builder (edge-biased, often invalid), half
  // well-formed requests on aligned blocks near the usable region, so that
  // plugged, mixed and NACKed states are reached too.
  const uint64_t blocks = g.region / g.block;
  const uint64_t near_usable = std::min(blocks, (g.requested + 256 * MiB) / g.block + 4);
  for (uint64_t i = 0; i < 4 * ops + 16; ++i) {
    if (builder.chance(2)) {
      builder.add_op();
      continue;
    }
    const auto type = builder.pick(std::vector{RequestType::Plug, RequestType::Plug, RequestType::Unplug,
                                               RequestType::State, RequestType::State});
    const uint64_t first = builder.below(builder.chance(2) ? std::min<uint64_t>(near_usable, 16) : near_usable);
    const auto nb = static_cast<uint16_t>(1 + builder.below(builder.chance(4) ? 64 : 8));
    builder.add(GuestRequest{config.id, type, {first * g.block, true}, nb});
  }
  Scenario all = builder.take(fmt::format("qemu-{}", seed));
  Scenario out{all.name, {}};
  uint64_t kept = 0;
  for (auto& step : all.steps) {
    const bool setup = std::holds_alternative<ConfigureMachine>(step.op) || std::holds_alternative<AddDevice>(step.op);
    if (!setup && (!expressible(step.op) || kept == ops)) continue;
    if (!setup) ++kept;
    out.steps.push_back(std::move(step));
  }
  return out;
}

}  // namespace vmemcheck::qemu
