#include "device.hpp"

#include <gtest/gtest.h>

#include "fault_injection.hpp"
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
  Result<std::unique_ptr<VirtioMemDevice>> create(const DeviceConfig& c, uint64_t memslot_limit = 1) {
    return VirtioMemDevice::create(c, memslot_limit, kHandle, faults, 1);
  }
  static constexpr DeviceHandle kHandle = 7;
  ShadowKvm kvm;
  SparseHostMemory host;
  KvmSlotBackend backend{kvm, host, {}};
  FaultInjectingBackend faults{backend};
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

// A load whose memslots cannot be mapped leaves the destination as it was:
// nothing plugged, its own usable region and requested size.
TEST(VirtioMemDevice, LoadThatCannotMapChangesNothing) {
  Bench bench;
  DeviceConfig dynamic = Bench::config();
  dynamic.mode = MemslotMode::Dynamic;
  auto source = bench.create(dynamic, 4);
  ASSERT_TRUE(source);
  ASSERT_EQ((*source)->handle({RequestType::Plug, dynamic.addr.value(), 1}), Response{ResponseType::Ack});
  MigrationState state = (*source)->save();
  state.requested_size = dynamic.region_size;
  state.usable_region_size = dynamic.region_size;
  source->reset();  // unmaps its memslot
  DeviceConfig small = dynamic;
  small.requested_size = 0;
  auto destination = bench.create(small, 4);
  ASSERT_TRUE(destination);
  const ConfigSpace before = (*destination)->config_space();
  bench.faults.arm(FaultKind::Map);
  ASSERT_FALSE((*destination)->load(state));
  EXPECT_EQ((*destination)->config_space(), before);
  EXPECT_EQ((*destination)->plugged_size(), 0u);
  EXPECT_EQ(bench.kvm.slot_count(), 0u);
}

// The virtio status travels with the VM (DESIGN §7, as QEMU): a device that
// needs a reset still needs one on the destination, and answers nothing
// until the driver resets it.
TEST(VirtioMemDevice, LoadCarriesTheErrorState) {
  Bench bench;
  auto source = bench.create(Bench::config());
  ASSERT_TRUE(source);
  const Request state_request{RequestType::State, Bench::config().addr.value(), 1};
  ASSERT_EQ((*source)->handle_raw({3, Bench::config().addr.value(), 1}, 7, 10), std::nullopt);
  const MigrationState state = (*source)->save();
  EXPECT_EQ(state.error_reason, "request too short: 7 device-readable bytes, need 24");
  source->reset();
  auto destination = bench.create(Bench::config());
  ASSERT_TRUE(destination);
  ASSERT_TRUE((*destination)->load(state));
  EXPECT_TRUE((*destination)->needs_reset());
  EXPECT_EQ((*destination)->error_reason(), state.error_reason);
  EXPECT_EQ((*destination)->handle(state_request), std::nullopt);
  (*destination)->virtio_reset();
  EXPECT_EQ((*destination)->handle(state_request), (Response{ResponseType::Ack, BlockState::Unplugged}));
  // A running source gives a running destination.
  const MigrationState running = (*destination)->save();
  EXPECT_EQ(running.error_reason, std::nullopt);
  destination->reset();
  auto again = bench.create(Bench::config());
  ASSERT_TRUE(again);
  ASSERT_TRUE((*again)->load(running));
  EXPECT_FALSE((*again)->needs_reset());
}

// requested-size is a property QOM shows live: a host resize and a load
// change it, a refused resize or load does not. A migration destination is
// realized from it (Machine::migrate_device), never from the value the
// device was created with.
TEST(VirtioMemDevice, ConfigHoldsTheLiveRequestedSize) {
  Bench bench;
  auto device = bench.create(Bench::config());
  ASSERT_TRUE(device);
  ASSERT_TRUE((*device)->set_requested_size(256 * MiB));
  EXPECT_EQ((*device)->config().requested_size, 256 * MiB);
  ASSERT_FALSE((*device)->set_requested_size(256 * MiB + 1));
  EXPECT_EQ((*device)->config().requested_size, 256 * MiB);
  MigrationState state = (*device)->save();
  state.requested_size = 0;
  device->reset();
  auto destination = bench.create(Bench::config());
  ASSERT_TRUE(destination);
  EXPECT_EQ((*destination)->config().requested_size, 512 * MiB);
  ASSERT_TRUE((*destination)->load(state));
  EXPECT_EQ((*destination)->config().requested_size, 0u);
}

}  // namespace
}  // namespace vmemcheck
