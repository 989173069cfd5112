// The Linux driver model's rules, checked on a real device core: memory
// block granularity, usable-region containment, highest-first unplug, BUSY
// backoff, UNPLUG_ALL at boot, big-block mode, pinned memory blocks.
#include "guest_driver.hpp"

#include <gtest/gtest.h>

#include "machine.hpp"
#include "policy_comparison.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {
namespace {

constexpr uint64_t kBase = 4 * GiB;

// A device on the shadow model; every request the driver sends is kept.
struct Bench : DriverPort {
  explicit Bench(uint64_t region = 8 * GiB, uint64_t block = 2 * MiB, MemslotMode mode = MemslotMode::Dynamic) {
    MachineConfig m;
    m.device_memory_base = kBase;
    m.device_memory_size = region;
    machine = std::make_unique<Machine>(m, kvm, host);
    DeviceConfig c;
    c.id = "vmem0";
    c.region_size = region;
    c.block_size = block;
    c.mode = mode;
    device = *machine->add_device(c);
  }
  ConfigSpace config() override { return device->config_space(); }
  std::optional<Response> send(const Request& request) override {
    sent.push_back(request);
    return device->handle(request);
  }
  void run(GuestDriver& driver, int ticks = 100) {
    for (int i = 0; i < ticks; ++i) driver.tick(*this);
  }

  ShadowKvm kvm;
  SparseHostMemory host;
  std::unique_ptr<Machine> machine;
  VirtioMemDevice* device = nullptr;
  std::vector<Request> sent;
};

TEST(GuestDriver, PlugsWholeMemoryBlocksLowestFirst) {
  Bench b;
  ASSERT_TRUE(b.device->set_requested_size(GiB));
  GuestDriver driver;
  b.run(driver);
  EXPECT_EQ(b.device->plugged_size(), GiB);
  EXPECT_EQ(driver.plugged(), GiB);
  ASSERT_EQ(b.sent.size(), 8u);
  for (size_t i = 0; i < b.sent.size(); ++i) {
    EXPECT_EQ(b.sent[i].type, RequestType::Plug);
    EXPECT_EQ(b.sent[i].addr, kBase + i * 128 * MiB);  // memory block starts, ascending
    EXPECT_EQ(b.sent[i].nb_blocks, 64);              // a whole 128 MiB memory block
  }
  EXPECT_EQ(driver.stats().errors, 0u);
}

TEST(GuestDriver, AddsOnlyMemoryBlocksInsideTheUsableRegion) {
  // 200 MiB requested: usable region 456 MiB. One whole memory block, then
  // 36 sub-blocks of the second; nothing crosses the usable end.
  Bench b;
  ASSERT_TRUE(b.device->set_requested_size(200 * MiB));
  GuestDriver driver;
  b.run(driver);
  EXPECT_EQ(b.device->plugged_size(), 200 * MiB);
  const uint64_t usable_end = kBase + b.device->usable_region_size();
  for (const Request& r : b.sent) {
    const uint64_t memory_block = (r.addr - kBase) / (128 * MiB);
    EXPECT_LE(kBase + (memory_block + 1) * 128 * MiB, usable_end);
  }
  ASSERT_EQ(b.sent.size(), 2u);
  EXPECT_EQ(b.sent[1].addr, kBase + 128 * MiB);
  EXPECT_EQ(b.sent[1].nb_blocks, 36);
}

TEST(GuestDriver, FillsPartialMemoryBlocksBeforeAddingNewOnes) {
  Bench b;
  ASSERT_TRUE(b.device->set_requested_size(200 * MiB));
  GuestDriver driver;
  b.run(driver);
  b.sent.clear();
  ASSERT_TRUE(b.device->set_requested_size(400 * MiB));
  b.run(driver);
  ASSERT_GE(b.sent.size(), 2u);
  EXPECT_EQ(b.sent[0].addr, kBase + 200 * MiB);  // the rest of the second memory block
  EXPECT_EQ(b.sent[0].nb_blocks, 28);
  EXPECT_EQ(b.sent[1].addr, kBase + 256 * MiB);  // then the third
  EXPECT_EQ(b.device->plugged_size(), 400 * MiB);
}

TEST(GuestDriver, UnplugsHighestAddressesFirstInWholeMemoryBlocks) {
  Bench b;
  ASSERT_TRUE(b.device->set_requested_size(GiB));
  GuestDriver driver;
  b.run(driver);
  b.sent.clear();
  ASSERT_TRUE(b.device->set_requested_size(512 * MiB));
  b.run(driver);
  EXPECT_EQ(b.device->plugged_size(), 512 * MiB);
  ASSERT_EQ(b.sent.size(), 4u);
  for (size_t i = 0; i < b.sent.size(); ++i) {
    EXPECT_EQ(b.sent[i].type, RequestType::Unplug);
    EXPECT_EQ(b.sent[i].addr, kBase + (7 - i) * 128 * MiB);
    EXPECT_EQ(b.sent[i].nb_blocks, 64);
  }
}

TEST(GuestDriver, SkipsMemoryBlocksItCannotOffline) {
  Bench b;
  ASSERT_TRUE(b.device->set_requested_size(GiB));
  DriverOptions options;
  options.unremovable = [](uint64_t memory_block) { return memory_block % 2 == 0; };
  GuestDriver driver(options);
  b.run(driver);
  ASSERT_TRUE(b.device->set_requested_size(0));
  b.run(driver);
  // Memory blocks 32, 34, ... (gpa / 128 MiB, from 4 GiB) stay; the odd ones went.
  EXPECT_EQ(b.device->plugged_size(), 512 * MiB);
  for (uint64_t i = 0; i < 8; ++i) {
    const auto state = b.device->handle({RequestType::State, kBase + i * 128 * MiB, 64});
    EXPECT_EQ(state->state, i % 2 == 0 ? BlockState::Plugged : BlockState::Unplugged) << i;
  }
}

TEST(GuestDriver, BacksOffExponentiallyOnBusy) {
  Bench b;
  ASSERT_TRUE(b.device->set_requested_size(GiB));
  b.device->set_busy(true);
  GuestDriver driver;
  std::vector<int> attempts;  // ticks at which the driver tried
  for (int tick = 0; tick < 16; ++tick) {
    const size_t before = b.sent.size();
    driver.tick(b);
    if (b.sent.size() > before) attempts.push_back(tick);
  }
  EXPECT_EQ(attempts, (std::vector<int>{0, 2, 5, 10}));  // waits 1, 2, 4 ticks
  EXPECT_EQ(driver.stats().busy, 4u);
  b.device->set_busy(false);
  b.run(driver);
  EXPECT_EQ(b.device->plugged_size(), GiB);
}

TEST(GuestDriver, UnplugsAllAtBootWhenMemoryIsPlugged) {
  Bench b;
  ASSERT_TRUE(b.device->set_requested_size(GiB));
  GuestDriver first;
  b.run(first);
  b.sent.clear();
  GuestDriver rebooted;  // e.g. after kexec: the device still has memory plugged
  rebooted.boot();
  b.run(rebooted);
  ASSERT_FALSE(b.sent.empty());
  EXPECT_EQ(b.sent[0].type, RequestType::UnplugAll);
  EXPECT_EQ(b.device->plugged_size(), GiB);  // and plugged again
}

TEST(GuestDriver, BigBlockModePlugsWholeDeviceBlocks) {
  Bench b(16 * GiB, GiB);
  ASSERT_TRUE(b.device->set_requested_size(3 * GiB));
  GuestDriver driver;
  b.run(driver);
  EXPECT_EQ(b.device->plugged_size(), 3 * GiB);
  ASSERT_EQ(b.sent.size(), 3u);
  for (const Request& r : b.sent) EXPECT_EQ(r.nb_blocks, 1);
}

// The driver is well behaved: no workload under any policy gets an ERROR.
TEST(GuestDriver, NoWorkloadGetsAnError) {
  ComparisonGeometry g;
  g.region_size = 64 * GiB;
  for (WorkloadKind workload : all_workloads()) {
    for (const auto& policy : default_policies(g.region_size)) {
      const auto result = run_policy(policy, workload, {g.region_size, g.block_size, 0, 1}, g);
      ASSERT_TRUE(result) << result.error().message;
      EXPECT_EQ(result->driver.errors, 0u) << name(workload) << " " << policy.label;
      EXPECT_GT(result->driver.acks, 0u) << name(workload) << " " << policy.label;
    }
  }
}

}  // namespace
}  // namespace vmemcheck
