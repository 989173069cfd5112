#include "qemu_sequences.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "qemu_machine.hpp"
#include "random_scenario.hpp"
#include "units.hpp"

namespace vmemcheck::qemu {
namespace {

using namespace scenario;

// The ops the generator keeps: those QEMU runs.
bool expressible(const Op& op) {
  return std::holds_alternative<GuestRequest>(op) || std::holds_alternative<RawRequest>(op) ||
         std::holds_alternative<Resize>(op) || std::holds_alternative<SystemReset>(op) ||
         std::holds_alternative<VirtioReset>(op);
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
