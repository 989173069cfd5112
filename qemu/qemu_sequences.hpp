// Random single-device op sequences that QEMU can express, over a table of
// device geometries: what `vmemcheck qemu --fuzz` runs.
#pragma once

#include <cstdint>
#include <vector>

#include "device_config.hpp"
#include "qemu_release.hpp"
#include "scenario.hpp"

namespace vmemcheck::qemu {

struct FuzzGeometry {
  uint64_t region;
  uint64_t block;
  uint64_t requested;
  bool unplugged_inaccessible;
  MemslotMode mode;
  uint64_t device_memory;  // the machine's device-memory area from 4 GiB (decides the memslot count)
  // Only for a QEMU with dynamic memslots: its area is QEMU's memory-device
  // space only then (without, QEMU gets a space just fitting the device).
  bool needs_dynamic_memslots;
};
std::vector<FuzzGeometry> qemu_geometries(const QemuDeviceProfile& profile);
// A random scenario over `geometry`, deterministic in `seed`, of `ops` ops
// after the machine and the device.
scenario::Scenario random_qemu_scenario(uint64_t seed, const FuzzGeometry& geometry, uint64_t ops);

}  // namespace vmemcheck::qemu
