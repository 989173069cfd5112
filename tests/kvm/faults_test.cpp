// Faults on real KVM: the machine's memslot limit exhausted, a foreign slot
// in the way of a device's memslot, a failing populate. Core, shadow and KVM
// must stay consistent (the runner checks the model, the invariants, the
// lockstep answers and the vCPU view after every step).
#include "invariants.hpp"
#include "kvm_fixture.hpp"
#include "machine.hpp"

namespace vmemcheck::kvm {
namespace {

class Faults : public KvmTest {};

TEST_F(Faults, MemslotLimitExhausted) {
  // 12 KVM memslots, 8 reserved: 4 left. A fixed layout of 16 slots is
  // refused at plug time of the fifth memslot; everything rolls back.
  const auto problems = run_on_kvm(R"(
machine base=0x140000000 size=64G kvm-memslots=12
device vmem0 size=4G block=2M requested=4G mode=fixed slot-size=1G => ok addr=0x140000000 memslots=4
plug vmem0 +0 1536 => ACK
write vmem0 +2G 0x42 => ok
expect vmem0 mapped=0-2
expect kvm-slots=3
device vmem1 size=2G block=2M requested=2G mode=fixed slot-size=1G => error: device 'vmem1': insufficient free memslots
plug vmem0 +3G 1 => ACK
expect kvm-slots=4
read vmem0 +2G => 0x42
)");
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

TEST_F(Faults, FailedPopulateRollsBack) {
  const auto problems = run_on_kvm(R"(
machine base=0x140000000 size=64G smm=on
device vmem0 size=8G block=2M requested=8G mode=dynamic
plug vmem0 +0 1 => ACK
write vmem0 +0 0x99 => ok
fail populate device=vmem0
plug vmem0 +1022M 1026 => BUSY
expect vmem0 mapped=0 plugged=2M
expect kvm-slots=2
read vmem0 +1G => unmapped
read vmem0 +0 => 0x99
fail map device=vmem0
plug vmem0 +3G 1 => BUSY
plug vmem0 +3G 1 => ACK
read vmem0 +3G => 0x0
)");
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

// Another consumer's memslot overlaps a device memslot that a plug must
// map: KVM and the shadow both refuse it (EEXIST), the plug answers BUSY and
// leaves nothing behind; once the foreign slot is gone the plug succeeds.
TEST_F(Faults, ForeignSlotInTheWay) {
  constexpr uint64_t MiB = uint64_t{1} << 20, GiB = uint64_t{1} << 30;
  KvmLimits limits;
  limits.phys_bits = host_phys_bits();
  ShadowKvm shadow(limits);
  KvmPlatform platform;
  MachineConfig machine_config;
  machine_config.device_memory_size = 64 * GiB;
  auto session = platform.start(shadow, machine_config);
  ASSERT_TRUE(session) << session.error().message;
  PlatformSession& s = **session;
  {
    Machine machine(machine_config, s.vm(), s.host_memory());
    DeviceConfig config;
    config.id = "vmem0";
    config.region_size = 8 * GiB;
    config.requested_size = 8 * GiB;
    config.mode = MemslotMode::Dynamic;
    auto added = machine.add_device(config);
    ASSERT_TRUE(added) << added.error().message;
    VirtioMemDevice& device = **added;
    const uint64_t base = device.addr();

    auto foreign_memory = s.host_memory().allocate(2 * MiB);
    ASSERT_TRUE(foreign_memory);
    const KvmRegion foreign{1, 0, base + 2 * GiB, 2 * MiB, *foreign_memory};  // reserved id 1
    ASSERT_EQ(s.vm().set_user_memory_region(foreign), 0);

    const auto refused = device.handle({RequestType::Plug, base + 2 * GiB + 2 * MiB, 1});
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->type, ResponseType::Busy);
    EXPECT_EQ(device.plugged_size(), 0u);
    EXPECT_EQ(device.mapped_slot_count(), 0u);
    EXPECT_TRUE(s.take_mismatches().empty());
    EXPECT_TRUE(check_invariants(machine, &shadow).empty());

    ASSERT_EQ(s.vm().set_user_memory_region({1, 0, base + 2 * GiB, 0, *foreign_memory}), 0);
    const auto accepted = device.handle({RequestType::Plug, base + 2 * GiB + 2 * MiB, 1});
    ASSERT_TRUE(accepted);
    EXPECT_EQ(accepted->type, ResponseType::Ack);
    uint64_t value = 1;
    EXPECT_TRUE(s.vcpu()->load(base + 2 * GiB + 2 * MiB, value));
    EXPECT_EQ(value, 0u);
    EXPECT_TRUE(s.take_mismatches().empty());
    EXPECT_TRUE(check_invariants(machine, &shadow).empty());
    s.host_memory().release(*foreign_memory, 2 * MiB);
  }
  EXPECT_EQ(shadow.slot_count(), 0u) << "the machine deleted its memslots on teardown";
}

}  // namespace
}  // namespace vmemcheck::kvm
