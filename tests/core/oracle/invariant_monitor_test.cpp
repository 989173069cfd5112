// The incremental InvariantMonitor must report exactly what the full
// check_invariants() reports, step after step: on a healthy machine and on
// one whose KVM slot table holds foreign slots among the devices' ids.
#include <gtest/gtest.h>

#include <random>

#include "host_memory.hpp"
#include "invariants.hpp"
#include "machine.hpp"
#include "shadow_kvm.hpp"
#include "units.hpp"

namespace vmemcheck {
namespace {

struct Rig {
  ShadowKvm kvm;
  SparseHostMemory host;
  Machine machine{MachineConfig{}, kvm, host};
  InvariantMonitor monitor;

  VirtioMemDevice& add(const std::string& id, MemslotMode mode, uint64_t region, uint64_t block) {
    DeviceConfig config;
    config.id = id;
    config.region_size = region;
    config.block_size = block;
    config.requested_size = region;
    config.mode = mode;
    if (mode == MemslotMode::Fixed) config.fixed_slot_size = 4 * block;
    auto added = machine.add_device(config);
    EXPECT_TRUE(added) << (added ? "" : added.error().message);
    return **added;
  }
  // Both checks agree; returns what they found.
  std::vector<std::string> check() {
    const auto full = check_invariants(machine, &kvm);
    EXPECT_EQ(monitor.check(machine, &kvm), full);
    return full;
  }
};

TEST(InvariantMonitor, AgreesWithTheFullCheckUnderRandomRequestsAndKvmCorruption) {
  Rig rig;
  std::vector<VirtioMemDevice*> devices = {&rig.add("vmem0", MemslotMode::Dynamic, 64 * GiB, 2 * MiB),
                                           &rig.add("vmem1", MemslotMode::Fixed, 512 * MiB, 2 * MiB),
                                           &rig.add("vmem2", MemslotMode::Count, 8 * GiB, 128 * MiB)};
  std::mt19937_64 random(42);
  uint64_t corrupted_steps = 0;
  std::vector<KvmRegion> foreign;
  for (int step = 0; step < 4000; ++step) {
    VirtioMemDevice& d = *devices[random() % devices.size()];
    const uint64_t blocks = d.config().region_size / d.config().block_size;
    const uint64_t first = random() % blocks;
    const auto nb = static_cast<uint16_t>(1 + random() % std::min<uint64_t>(blocks - first, 300));
    const uint64_t gpa = d.addr() + first * d.config().block_size;
    switch (random() % 8) {
      case 0: d.handle({RequestType::UnplugAll, 0, 0}); break;
      case 1: case 2: case 3: d.handle({RequestType::Unplug, gpa, nb}); break;
      case 4: {
        // A foreign slot among the memory devices' ids (invariant 6), far
        // above their memory.
        const uint32_t id = 400 + static_cast<uint32_t>(foreign.size());
        const KvmRegion region{id, 0, 32 * TiB + id * GiB, GiB, 0x7f0000000000 + uint64_t{id} * GiB};
        if (rig.kvm.set_user_memory_region(region) == 0) foreign.push_back(region);
        break;
      }
      case 5:
        if (!foreign.empty()) {
          KvmRegion region = foreign.back();
          region.memory_size = 0;
          ASSERT_EQ(rig.kvm.set_user_memory_region(region), 0);
          foreign.pop_back();
        }
        break;
      default: d.handle({RequestType::Plug, gpa, nb}); break;
    }
    if (!rig.check().empty()) ++corrupted_steps;
  }
  for (KvmRegion region : foreign) {
    region.memory_size = 0;
    rig.kvm.set_user_memory_region(region);
  }
  // Both the healthy and the broken case were compared, many times.
  EXPECT_GT(corrupted_steps, 100u);
  EXPECT_LT(corrupted_steps, 4000u);
}

TEST(InvariantMonitor, KeepsReportingABreakThatNothingTouches) {
  Rig rig;
  VirtioMemDevice& d = rig.add("vmem0", MemslotMode::Dynamic, 16 * GiB, 2 * MiB);
  ASSERT_EQ(d.handle({RequestType::Plug, d.addr(), 1})->type, ResponseType::Ack);
  EXPECT_TRUE(rig.check().empty());
  KvmRegion foreign{450, 0, 32 * TiB, GiB, 0x7f0000000000};
  ASSERT_EQ(rig.kvm.set_user_memory_region(foreign), 0);
  for (int step = 0; step < 3; ++step) {
    const auto found = rig.check();
    ASSERT_EQ(found.size(), 1u);
    EXPECT_NE(found[0].find("invariant 6 broken"), std::string::npos) << found[0];
  }
  foreign.memory_size = 0;
  ASSERT_EQ(rig.kvm.set_user_memory_region(foreign), 0);
  EXPECT_TRUE(rig.check().empty());
}

TEST(InvariantMonitor, FollowsDevicesThatComeAndGo) {
  Rig rig;
  VirtioMemDevice& gone = rig.add("vmem0", MemslotMode::Dynamic, 16 * GiB, 2 * MiB);
  VirtioMemDevice& d = rig.add("vmem1", MemslotMode::Static, 4 * GiB, 2 * MiB);
  ASSERT_EQ(d.handle({RequestType::Plug, d.addr(), 8})->type, ResponseType::Ack);
  EXPECT_TRUE(rig.check().empty());
  ASSERT_TRUE(gone.set_requested_size(0));
  ASSERT_TRUE(rig.machine.remove_device("vmem0"));
  EXPECT_TRUE(rig.check().empty());
  rig.add("vmem0b", MemslotMode::Fixed, 2 * GiB, 2 * MiB);
  EXPECT_TRUE(rig.check().empty());
}

}  // namespace
}  // namespace vmemcheck
