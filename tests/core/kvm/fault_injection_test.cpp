#include "fault_injection.hpp"

#include <gtest/gtest.h>

#include <array>

#include "kvm_slot_backend.hpp"
#include "shadow_kvm.hpp"
#include "units.hpp"

namespace vmemcheck {
namespace {

constexpr uint64_t kGpa = 4 * GiB;

SlotMapping mapping(uint64_t index) { return {0, index, kGpa + index * GiB, GiB, index * GiB}; }

struct Stack {
  Stack() { EXPECT_TRUE(faults.attach(0, 4 * GiB)); }
  ShadowKvm kvm;
  SparseHostMemory host;
  KvmSlotBackend backend{kvm, host};
  FaultInjectingBackend faults{backend};
};

TEST(FaultInjection, NothingArmedPassesThrough) {
  Stack s;
  EXPECT_TRUE(s.faults.apply({{}, {mapping(0)}}));
  EXPECT_TRUE(s.faults.populate(0, 0, 2 * MiB));
  EXPECT_TRUE(s.faults.discard(0, 0, 2 * MiB));
  EXPECT_EQ(s.kvm.slot_count(), 1u);
  EXPECT_EQ(s.faults.injected(), 0u);
}

TEST(FaultInjection, ArmedMapFailsOnceWithoutTouchingKvm) {
  Stack s;
  s.faults.arm(FaultKind::Map);
  EXPECT_TRUE(s.faults.armed(FaultKind::Map));
  const Status failed = s.faults.apply({{}, {mapping(0), mapping(1)}});
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "injected fault: map of 2 memslot(s)");
  EXPECT_EQ(s.kvm.slot_count(), 0u);
  EXPECT_EQ(s.kvm.calls(), 0u);
  EXPECT_FALSE(s.faults.armed(FaultKind::Map));  // one-shot
  EXPECT_EQ(s.faults.injected(), 1u);
  EXPECT_TRUE(s.faults.apply({{}, {mapping(0), mapping(1)}}));
  EXPECT_EQ(s.kvm.slot_count(), 2u);
}

TEST(FaultInjection, SkipLetsEarlierCallsPass) {
  Stack s;
  s.faults.arm(FaultKind::Map, 2);  // the third mapping transaction fails
  EXPECT_TRUE(s.faults.apply({{}, {mapping(0)}}));
  EXPECT_TRUE(s.faults.apply({{}, {mapping(1)}}));
  EXPECT_TRUE(s.faults.armed(FaultKind::Map));
  EXPECT_FALSE(s.faults.apply({{}, {mapping(2)}}));
  EXPECT_TRUE(s.faults.apply({{}, {mapping(2)}}));
  EXPECT_EQ(s.faults.injected(), 1u);
}

TEST(FaultInjection, UnmapOnlyTransactionsCannotFail) {
  // KVM cannot fail to delete a live slot; the fault waits for the next map.
  Stack s;
  ASSERT_TRUE(s.faults.apply({{}, {mapping(0)}}));
  s.faults.arm(FaultKind::Map);
  EXPECT_TRUE(s.faults.apply({{mapping(0)}, {}}));
  EXPECT_TRUE(s.faults.apply({}));
  EXPECT_TRUE(s.faults.armed(FaultKind::Map));
  EXPECT_EQ(s.kvm.slot_count(), 0u);
  EXPECT_FALSE(s.faults.apply({{}, {mapping(0)}}));
}

TEST(FaultInjection, DiscardFaultKeepsData) {
  Stack s;
  ASSERT_TRUE(s.faults.apply({{}, {mapping(0)}}));
  const std::array<uint8_t, 2> data{0xAB, 0xCD};
  ASSERT_TRUE(s.backend.write(kGpa, data));
  s.faults.arm(FaultKind::Discard);
  const Status failed = s.faults.discard(0, 0, GiB);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "injected fault: discard");
  std::array<uint8_t, 2> out{};
  ASSERT_TRUE(s.backend.read(kGpa, out));
  EXPECT_EQ(out, data);
  ASSERT_TRUE(s.faults.discard(0, 0, GiB));
  ASSERT_TRUE(s.backend.read(kGpa, out));
  EXPECT_EQ(out, (std::array<uint8_t, 2>{}));
}

TEST(FaultInjection, PopulateFault) {
  Stack s;
  s.faults.arm(FaultKind::Populate);
  const Status failed = s.faults.populate(0, 0, 2 * MiB);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "injected fault: populate");
  EXPECT_TRUE(s.faults.populate(0, 0, 2 * MiB));
}

TEST(FaultInjection, AttachFault) {
  Stack s;
  s.faults.arm(FaultKind::Attach);
  const Status failed = s.faults.attach(1, GiB);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().message, "injected fault: attach");
  EXPECT_EQ(s.backend.device_hva(1), std::nullopt);
  EXPECT_TRUE(s.faults.attach(1, GiB));
  EXPECT_TRUE(s.backend.device_hva(1).has_value());
  s.faults.detach(1);  // passes through
  EXPECT_EQ(s.backend.device_hva(1), std::nullopt);
}

TEST(FaultInjection, KindsAreIndependent) {
  Stack s;
  s.faults.arm(FaultKind::Discard);
  EXPECT_TRUE(s.faults.populate(0, 0, 2 * MiB));
  EXPECT_TRUE(s.faults.apply({{}, {mapping(0)}}));
  EXPECT_FALSE(s.faults.armed(FaultKind::Populate));
  EXPECT_TRUE(s.faults.armed(FaultKind::Discard));
  EXPECT_FALSE(s.faults.discard(0, 0, 2 * MiB));
}

TEST(FaultInjection, RearmingReplacesTheCountdown) {
  Stack s;
  s.faults.arm(FaultKind::Populate, 5);
  s.faults.arm(FaultKind::Populate, 0);
  EXPECT_FALSE(s.faults.populate(0, 0, 2 * MiB));
}

TEST(FaultInjection, DisarmAll) {
  Stack s;
  s.faults.arm(FaultKind::Map);
  s.faults.arm(FaultKind::Discard, 3);
  s.faults.disarm_all();
  EXPECT_FALSE(s.faults.armed(FaultKind::Map));
  EXPECT_FALSE(s.faults.armed(FaultKind::Discard));
  EXPECT_TRUE(s.faults.apply({{}, {mapping(0)}}));
  EXPECT_EQ(s.faults.injected(), 0u);
}

TEST(FaultInjection, InnerErrorsPassThrough) {
  Stack s;
  const Status status = s.faults.discard(9, 0, 2 * MiB);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "discard [0x0, +0x200000) outside device 9's backing");
  EXPECT_EQ(s.faults.injected(), 0u);
}

TEST(FaultInjection, KindNames) {
  EXPECT_EQ(name(FaultKind::Map), "map");
  EXPECT_EQ(name(FaultKind::Populate), "populate");
  EXPECT_EQ(name(FaultKind::Discard), "discard");
  EXPECT_EQ(name(FaultKind::Attach), "attach");
  for (auto kind : {FaultKind::Map, FaultKind::Populate, FaultKind::Discard, FaultKind::Attach}) {
    EXPECT_EQ(parse_fault_kind(name(kind)), kind);
  }
  EXPECT_EQ(parse_fault_kind("unmap"), std::nullopt);
}

}  // namespace
}  // namespace vmemcheck
