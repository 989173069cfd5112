#include "device.hpp"

#include <gtest/gtest.h>

#include "host_memory.hpp"
#include "kvm_slot_backend.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {
namespace {

// The device over a KVM slot backend of its own, without a machine: what
// create() and load() refuse that a machine never asks of them.
struct Bench {
  Bench() { EXPECT_TRUE(backend.attach(kHandle, config().region_size)); }
  static DeviceConfig config() {
    DeviceConfig c;
    c.id = "vm0";
    c.addr = 0x140000000;
    c.region_size = GiB;
    c.requested_size = 512 * MiB;
    return c;
  }
  Result<std::unique_ptr<VirtioMemDevice>> create(const DeviceConfig& c) {
    return VirtioMemDevice::create(c, 1, kHandle, backend, 1);
  }
  static constexpr DeviceHandle kHandle = 7;
  ShadowKvm kvm;
  SparseHostMemory host;
  KvmSlotBackend backend{kvm, host, {}};
};

TEST(VirtioMemDevice, CreateRefusesAConfigWithoutAddress) {
  Bench bench;
  DeviceConfig unplaced = Bench::config();
  unplaced.addr.reset();
  const auto created = bench.create(unplaced);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().message, "device 'vm0': no address assigned");
}

TEST(VirtioMemDevice, CreateRefusesAnInvalidConfig) {
  Bench bench;
  DeviceConfig invalid = Bench::config();
  invalid.requested_size = 2 * GiB;
  const auto created = bench.create(invalid);
  ASSERT_FALSE(created);
  EXPECT_EQ(created.error().message, validate(invalid, 1).error().message);
  EXPECT_EQ(bench.kvm.slot_count(), 0u);
}

// A migration destination is a fresh device: one with plugged memory refuses
// the incoming state and keeps what it had.
TEST(VirtioMemDevice, LoadRefusesADestinationWithPluggedMemory) {
  Bench bench;
  auto source = bench.create(Bench::config());
  ASSERT_TRUE(source);
  const MigrationState state = (*source)->save();
  ASSERT_EQ((*source)->handle({RequestType::Plug, Bench::config().addr.value(), 1}), Response{ResponseType::Ack});
  const Status loaded = (*source)->load(state);
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error().message, "device 'vm0': migration load failed: the destination device has plugged memory");
  EXPECT_EQ((*source)->plugged_size(), 2 * MiB);
}

}  // namespace
}  // namespace vmemcheck
