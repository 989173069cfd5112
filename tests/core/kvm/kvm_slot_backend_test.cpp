#include "kvm_slot_backend.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <utility>
#include <vector>

#include "shadow_kvm.hpp"
#include "units.hpp"

namespace vmemcheck {
namespace {

constexpr uint64_t kGpa = 4 * GiB;     // where the test places device 0
constexpr uint64_t kHostBase = TiB;    // SparseHostMemory's first allocation

SlotMapping mapping(uint64_t index, uint64_t size = GiB, DeviceHandle device = 0, uint64_t gpa_base = kGpa) {
  return {device, index, gpa_base + index * size, size, index * size};
}

SlotTransaction map_of(std::vector<SlotMapping> slots) { return {{}, std::move(slots)}; }
SlotTransaction unmap_of(std::vector<SlotMapping> slots) { return {std::move(slots), {}}; }

struct Stack {
  explicit Stack(KvmBackendOptions options = {}, KvmLimits limits = {})
      : kvm(limits), backend(kvm, host, options) {}
  ShadowKvm kvm;
  SparseHostMemory host;
  KvmSlotBackend backend;
};

std::array<uint8_t, 4> pattern(uint8_t seed) { return {seed, uint8_t(seed + 1), uint8_t(seed + 2), uint8_t(seed + 3)}; }

// Sparse host memory that records the discard and populate calls it gets.
class RecordingHost final : public HostMemory {
 public:
  using Range = std::pair<uint64_t, uint64_t>;  // (hva, size)
  Result<uint64_t> allocate(uint64_t size) override { return inner_.allocate(size); }
  void release(uint64_t hva, uint64_t size) override { inner_.release(hva, size); }
  Status discard(uint64_t hva, uint64_t size) override {
    discarded.push_back({hva, size});
    return inner_.discard(hva, size);
  }
  Status populate(uint64_t hva, uint64_t size) override {
    populated.push_back({hva, size});
    return inner_.populate(hva, size);
  }
  void read(uint64_t hva, std::span<uint8_t> bytes) const override { inner_.read(hva, bytes); }
  void write(uint64_t hva, std::span<const uint8_t> bytes) override { inner_.write(hva, bytes); }
  std::vector<Range> discarded;
  std::vector<Range> populated;

 private:
  SparseHostMemory inner_;
};

TEST(KvmSlotBackend, AttachAllocatesBacking) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.attach(1, GiB));
  EXPECT_EQ(s.backend.device_hva(0), kHostBase);
  EXPECT_EQ(s.backend.device_hva(1), kHostBase + 4 * GiB);
  EXPECT_EQ(s.backend.device_hva(2), std::nullopt);
  EXPECT_EQ(s.kvm.slot_count(), 0u);  // attaching maps nothing
}

TEST(KvmSlotBackend, AttachFailsWhenTheHostHasNoRoom) {
  Stack s;
  // SparseHostMemory hands out [1 TiB, 128 TiB): 128 TiB never fits.
  const Status status = s.backend.attach(0, 128 * TiB);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "host address space exhausted allocating 0x800000000000 bytes");
  EXPECT_EQ(s.backend.device_hva(0), std::nullopt);
  EXPECT_EQ(s.backend.apply(map_of({mapping(0)})).error().message, "device handle 0 has no backing memory");
}

TEST(KvmSlotBackend, AttachTwiceFails) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(3, GiB));
  const Status again = s.backend.attach(3, GiB);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().message, "device handle 3 attached twice");
}

TEST(KvmSlotBackend, MapIssuesOneRegionPerSlot) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(2)})));
  const std::vector<KvmRegion> expected = {
      {0, 0, kGpa, GiB, kHostBase},
      {1, 0, kGpa + 2 * GiB, GiB, kHostBase + 2 * GiB},
  };
  EXPECT_EQ(s.kvm.slots(), expected);
  EXPECT_EQ(s.backend.used_slots(), 2u);
  EXPECT_EQ(s.backend.free_slots(), 32764u - 2);
  EXPECT_EQ(s.backend.ioctl_calls(), 2u);
}

TEST(KvmSlotBackend, UnmapDeletesAndFreesTheId) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(1)})));
  ASSERT_TRUE(s.backend.apply(unmap_of({mapping(0)})));
  ASSERT_EQ(s.kvm.slot_count(), 1u);
  EXPECT_EQ(s.kvm.slots()[0].slot, 1u);
  // The freed id 0 is the next one handed out.
  ASSERT_TRUE(s.backend.apply(map_of({mapping(3)})));
  EXPECT_EQ(s.kvm.slots()[0], (KvmRegion{0, 0, kGpa + 3 * GiB, GiB, kHostBase + 3 * GiB}));
}

TEST(KvmSlotBackend, ReservedIdsAreNotUsed) {
  Stack s(KvmBackendOptions{.reserved_slots = 8});
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(1)})));
  const auto slots = s.kvm.slots();
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[0].slot, 8u);
  EXPECT_EQ(slots[1].slot, 9u);
  EXPECT_EQ(s.backend.free_slots(), 32764u - 8 - 2);
}

TEST(KvmSlotBackend, ReservingMoreIdsThanKvmHasLeavesNoneFree) {
  Stack s(KvmBackendOptions{.reserved_slots = 8}, KvmLimits{.max_memslots = 4});
  EXPECT_EQ(s.backend.free_slots(), 0u);
  EXPECT_EQ(s.backend.used_slots(), 0u);
  ASSERT_TRUE(s.backend.attach(0, GiB));
  EXPECT_EQ(s.backend.apply(map_of({mapping(0)})).error().message, "no free KVM memslot (KVM_CAP_NR_MEMSLOTS = 4)");
}

TEST(KvmSlotBackend, SmmMirrorsEveryMapping) {
  Stack s(KvmBackendOptions{.smm = true});
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(1)})));
  const std::vector<KvmRegion> expected = {
      {kvm_slot_id(0, 0), 0, kGpa + GiB, GiB, kHostBase + GiB},
      {kvm_slot_id(kSmmAddressSpace, 0), 0, kGpa + GiB, GiB, kHostBase + GiB},
  };
  EXPECT_EQ(s.kvm.slots(), expected);
  EXPECT_EQ(s.backend.used_slots(), 1u);  // one id, used in both address spaces
  EXPECT_EQ(s.backend.ioctl_calls(), 2u);
  ASSERT_TRUE(s.backend.apply(unmap_of({mapping(1)})));
  EXPECT_EQ(s.kvm.slot_count(), 0u);
  EXPECT_EQ(s.backend.ioctl_calls(), 4u);
}

TEST(KvmSlotBackend, FlagsOptionAppliesToEverySlot) {
  Stack s(KvmBackendOptions{.flags = kKvmMemLogDirtyPages});
  ASSERT_TRUE(s.backend.attach(0, 2 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(1)})));
  for (const auto& r : s.kvm.slots()) EXPECT_EQ(r.flags, kKvmMemLogDirtyPages) << describe(r);
  EXPECT_GT(s.kvm.metadata().dirty_bitmaps, 0u);
}

TEST(KvmSlotBackend, FailedTransactionOnForeignOverlapRestoresTable) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0)})));
  // Another consumer owns id 100 and the guest range of slot 2.
  ASSERT_EQ(s.kvm.set_user_memory_region({100, 0, kGpa + 2 * GiB + 4096, 4096, 2 * TiB}), 0);
  const auto before = s.kvm.slots();
  const Status status = s.backend.apply(map_of({mapping(1), mapping(2), mapping(3)}));
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("failed: -EEXIST"), std::string::npos) << status.error().message;
  EXPECT_NE(status.error().message.find("gpa=0x180000000"), std::string::npos) << status.error().message;
  EXPECT_EQ(s.kvm.slots(), before);
  EXPECT_EQ(s.backend.used_slots(), 1u);
  EXPECT_EQ(s.backend.free_slots(), 32764u - 1);
}

TEST(KvmSlotBackend, FailedTransactionOnIdExhaustionRestoresTable) {
  // Ids 1..3 are for memory devices; the third mapping of the batch finds none.
  Stack s(KvmBackendOptions{.reserved_slots = 1}, KvmLimits{.max_memslots = 4});
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0)})));
  const auto before = s.kvm.slots();
  const Status status = s.backend.apply(map_of({mapping(1), mapping(2), mapping(3)}));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "no free KVM memslot (KVM_CAP_NR_MEMSLOTS = 4)");
  EXPECT_EQ(s.kvm.slots(), before);
  EXPECT_EQ(s.backend.free_slots(), 2u);
  EXPECT_EQ(s.backend.used_slots(), 1u);
  // Two fit.
  EXPECT_TRUE(s.backend.apply(map_of({mapping(1), mapping(2)})));
  EXPECT_EQ(s.backend.free_slots(), 0u);
}

TEST(KvmSlotBackend, FailedSmmHalfIsUndone) {
  // The SMM address space has a foreign slot where slot 1 would go: the normal
  // address space half of slot 1 must be removed again.
  Stack s(KvmBackendOptions{.smm = true});
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0)})));
  ASSERT_EQ(s.kvm.set_user_memory_region({kvm_slot_id(kSmmAddressSpace, 200), 0, kGpa + GiB, 4096, 2 * TiB}), 0);
  const auto before = s.kvm.slots();
  const Status status = s.backend.apply(map_of({mapping(1)}));
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("slot=1:1"), std::string::npos) << status.error().message;
  EXPECT_EQ(s.kvm.slots(), before);
  EXPECT_EQ(s.backend.used_slots(), 1u);
  // Slot 0: two calls; slot 1: normal space, the failing SMM call, and the
  // call that deletes the normal half again.
  EXPECT_EQ(s.backend.ioctl_calls(), 2u + 3u);
  EXPECT_EQ(s.kvm.calls(), 1u + 2u + 3u);  // the foreign slot's call too
}

TEST(KvmSlotBackend, FailedTransactionRestoresUnmappedSlotsWithTheirIds) {
  // Unmap slot B (id 1), then a map fails: B must come back as id 1, even
  // though id 0 is free by then.
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(1)})));
  ASSERT_TRUE(s.backend.apply(unmap_of({mapping(0)})));
  ASSERT_EQ(s.kvm.set_user_memory_region({100, 0, kGpa + 3 * GiB, 4096, 2 * TiB}), 0);
  const auto before = s.kvm.slots();
  const Status status = s.backend.apply({{mapping(1)}, {mapping(2), mapping(3)}});
  ASSERT_FALSE(status);
  EXPECT_EQ(s.kvm.slots(), before);
  // The backend's own view agrees: unmapping B deletes KVM slot 1.
  ASSERT_TRUE(s.backend.apply(unmap_of({mapping(1)})));
  EXPECT_EQ(s.kvm.slot_count(), 1u);  // only the foreign slot is left
}

TEST(KvmSlotBackend, FailedUnmapRestoresTheSlotsUnmappedBeforeIt) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(1)})));
  const auto before = s.kvm.slots();
  const Status status = s.backend.apply(unmap_of({mapping(0), mapping(3)}));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "memslot 3 of device 0 is not mapped");
  EXPECT_EQ(s.kvm.slots(), before);
  EXPECT_EQ(s.backend.used_slots(), 2u);
  EXPECT_TRUE(s.backend.accessible(kGpa, GiB));
}

TEST(KvmSlotBackend, UnmapRefusedByKvmKeepsTheSlot) {
  // KVM refuses to delete a slot that is not there: another consumer deleted
  // it behind the backend's back. The unmap fails and changes nothing.
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0)})));
  ASSERT_EQ(s.kvm.set_user_memory_region({0, 0, 0, 0, 0}), 0);
  const Status status = s.backend.apply(unmap_of({mapping(0)}));
  ASSERT_FALSE(status);
  EXPECT_NE(status.error().message.find("failed: -EINVAL"), std::string::npos) << status.error().message;
  EXPECT_EQ(s.backend.used_slots(), 1u);
  EXPECT_TRUE(s.backend.accessible(kGpa, GiB));
  EXPECT_EQ(s.backend.apply(map_of({mapping(0)})).error().message, "memslot 0 of device 0 is already mapped");
}

TEST(KvmSlotBackend, MappingTwiceFails) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(1)})));
  const Status status = s.backend.apply(map_of({mapping(1)}));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "memslot 1 of device 0 is already mapped");
  EXPECT_EQ(s.kvm.slot_count(), 1u);
}

TEST(KvmSlotBackend, UnmappingUnmappedSlotFails) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  const Status status = s.backend.apply(unmap_of({mapping(3)}));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "memslot 3 of device 0 is not mapped");
  // Index 1, just past the highest index the device ever mapped.
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0)})));
  EXPECT_EQ(s.backend.apply(unmap_of({mapping(1)})).error().message, "memslot 1 of device 0 is not mapped");
}

TEST(KvmSlotBackend, MappingWithoutBackingFails) {
  Stack s;
  const Status status = s.backend.apply(map_of({mapping(0, GiB, 7)}));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().message, "device handle 7 has no backing memory");
  EXPECT_EQ(s.kvm.slot_count(), 0u);
}

TEST(KvmSlotBackend, GuestMemoryGoesThroughMappedSlots) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(1)})));
  const auto data = pattern(0x41);
  ASSERT_TRUE(s.backend.write(kGpa + GiB + 4094, data));  // crosses a host page
  std::array<uint8_t, 4> out{};
  ASSERT_TRUE(s.backend.read(kGpa + GiB + 4094, out));
  EXPECT_EQ(out, data);
  // The bytes live in the device's backing at offset 1 GiB + 4094.
  std::array<uint8_t, 4> host{};
  s.host.read(kHostBase + GiB + 4094, host);
  EXPECT_EQ(host, data);
}

TEST(KvmSlotBackend, UnmappedGpaIsNotAccessible) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(1)})));
  std::array<uint8_t, 4> out{};
  EXPECT_FALSE(s.backend.read(kGpa, out));                // slot 0 is not mapped
  EXPECT_FALSE(s.backend.read(kGpa + 2 * GiB, out));      // just past slot 1
  EXPECT_FALSE(s.backend.write(kGpa + 3 * GiB, pattern(1)));
  EXPECT_FALSE(s.backend.read(0, out));                   // below everything
  EXPECT_TRUE(s.backend.read(kGpa + 2 * GiB - 4, out));   // last 4 bytes of slot 1
  EXPECT_FALSE(s.backend.read(kGpa + 2 * GiB - 2, out));  // straddles the slot end
}

TEST(KvmSlotBackend, AccessesReachTheSlotEndButNotPastIt) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(1)})));
  const uint64_t end = kGpa + 2 * GiB;  // slot 1's end; nothing is mapped above
  std::array<uint8_t, 1> one{};
  EXPECT_TRUE(s.backend.read(end - 1, one));
  EXPECT_TRUE(s.backend.write(end - 4, pattern(5)));
  EXPECT_TRUE(s.backend.accessible(end - 4, 4));
  EXPECT_TRUE(s.backend.accessible(kGpa + GiB, GiB));  // the whole slot
  std::array<uint8_t, 4> out{};
  EXPECT_FALSE(s.backend.read(end - 3, out));  // one byte over the end
  EXPECT_FALSE(s.backend.write(end - 3, pattern(5)));
  EXPECT_FALSE(s.backend.accessible(end - 3, 4));
  EXPECT_FALSE(s.backend.accessible(kGpa + GiB, GiB + 1));
  EXPECT_FALSE(s.backend.accessible(end, 1));
}

TEST(KvmSlotBackend, EmptyAccessesSucceedAnywhere) {
  // GuestMemory: size 0 is accessible (as in GuestRam), mapped or not.
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(1)})));
  for (const uint64_t gpa : {uint64_t{0}, kGpa + GiB, kGpa + 2 * GiB}) {
    EXPECT_TRUE(s.backend.accessible(gpa, 0)) << gpa;
    EXPECT_TRUE(s.backend.read(gpa, {})) << gpa;
    EXPECT_TRUE(s.backend.write(gpa, {})) << gpa;
  }
}

TEST(KvmSlotBackend, UnmappingMakesGpaInaccessible) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0)})));
  ASSERT_TRUE(s.backend.write(kGpa, pattern(7)));
  ASSERT_TRUE(s.backend.apply(unmap_of({mapping(0)})));
  std::array<uint8_t, 4> out{};
  EXPECT_FALSE(s.backend.read(kGpa, out));
  // The backing keeps the data: re-mapping shows it again.
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0)})));
  ASSERT_TRUE(s.backend.read(kGpa, out));
  EXPECT_EQ(out, pattern(7));
}

TEST(KvmSlotBackend, DiscardReadsZero) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 2 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(1)})));
  ASSERT_TRUE(s.backend.write(kGpa + 2 * MiB, pattern(9)));
  ASSERT_TRUE(s.backend.write(kGpa + 4 * MiB, pattern(19)));
  ASSERT_TRUE(s.backend.discard(0, 2 * MiB, 2 * MiB));
  std::array<uint8_t, 4> out{};
  ASSERT_TRUE(s.backend.read(kGpa + 2 * MiB, out));
  EXPECT_EQ(out, (std::array<uint8_t, 4>{}));
  ASSERT_TRUE(s.backend.read(kGpa + 4 * MiB, out));  // outside the discarded range
  EXPECT_EQ(out, pattern(19));
}

TEST(KvmSlotBackend, DataSurvivesMappingOtherSlots) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, 4 * GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(2)})));
  ASSERT_TRUE(s.backend.write(kGpa + 2 * GiB + 12345, pattern(0x70)));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0), mapping(1), mapping(3)})));
  ASSERT_TRUE(s.backend.apply(unmap_of({mapping(1), mapping(3)})));
  std::array<uint8_t, 4> out{};
  ASSERT_TRUE(s.backend.read(kGpa + 2 * GiB + 12345, out));
  EXPECT_EQ(out, pattern(0x70));
}

TEST(KvmSlotBackend, DevicesHaveSeparateBacking) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, GiB));
  ASSERT_TRUE(s.backend.attach(1, GiB));
  ASSERT_TRUE(s.backend.apply(map_of({mapping(0, GiB, 0, kGpa), mapping(0, GiB, 1, kGpa + 8 * GiB)})));
  ASSERT_TRUE(s.backend.write(kGpa, pattern(1)));
  ASSERT_TRUE(s.backend.write(kGpa + 8 * GiB, pattern(2)));
  ASSERT_TRUE(s.backend.discard(1, 0, GiB));
  std::array<uint8_t, 4> out{};
  ASSERT_TRUE(s.backend.read(kGpa, out));
  EXPECT_EQ(out, pattern(1));
  ASSERT_TRUE(s.backend.read(kGpa + 8 * GiB, out));
  EXPECT_EQ(out, (std::array<uint8_t, 4>{}));
}

TEST(KvmSlotBackend, DiscardAndPopulateOutsideBackingFail) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, GiB));
  const Status discard = s.backend.discard(0, GiB - 2 * MiB, 4 * MiB);
  ASSERT_FALSE(discard);
  EXPECT_EQ(discard.error().message, "discard [0x3fe00000, +0x400000) outside device 0's backing");
  const Status populate = s.backend.populate(5, 0, 2 * MiB);
  ASSERT_FALSE(populate);
  EXPECT_EQ(populate.error().message, "populate [0x0, +0x200000) outside device 5's backing");
  EXPECT_TRUE(s.backend.discard(0, 0, GiB));
  EXPECT_TRUE(s.backend.populate(0, GiB - 2 * MiB, 2 * MiB));
  // One byte too many, and an empty range at the very end (inside).
  EXPECT_EQ(s.backend.discard(0, GiB - 4096, 4097).error().message,
            "discard [0x3ffff000, +0x1001) outside device 0's backing");
  EXPECT_EQ(s.backend.populate(0, GiB - 4096, 4097).error().message,
            "populate [0x3ffff000, +0x1001) outside device 0's backing");
  EXPECT_TRUE(s.backend.discard(0, GiB, 0));
  EXPECT_TRUE(s.backend.populate(0, GiB, 0));
  EXPECT_FALSE(s.backend.discard(0, GiB + 4096, 0));
  EXPECT_FALSE(s.backend.populate(0, GiB + 4096, 0));
}

TEST(KvmSlotBackend, DiscardAndPopulateReachTheDevicesBacking) {
  ShadowKvm kvm;
  RecordingHost host;
  KvmSlotBackend backend(kvm, host);
  ASSERT_TRUE(backend.attach(0, GiB));
  ASSERT_TRUE(backend.attach(1, GiB));  // its backing starts at 1 TiB + 1 GiB
  ASSERT_TRUE(backend.discard(1, 2 * MiB, 4 * MiB));
  ASSERT_TRUE(backend.populate(1, 6 * MiB, 2 * MiB));
  EXPECT_EQ(host.discarded, (std::vector<RecordingHost::Range>{{kHostBase + GiB + 2 * MiB, 4 * MiB}}));
  EXPECT_EQ(host.populated, (std::vector<RecordingHost::Range>{{kHostBase + GiB + 6 * MiB, 2 * MiB}}));
}

TEST(KvmSlotBackend, DetachReleasesBacking) {
  Stack s;
  ASSERT_TRUE(s.backend.attach(0, GiB));
  s.host.write(kHostBase, pattern(3));
  EXPECT_EQ(s.host.resident_pages(), 1u);
  s.backend.detach(0);
  EXPECT_EQ(s.backend.device_hva(0), std::nullopt);
  EXPECT_EQ(s.host.resident_pages(), 0u);
  s.backend.detach(0);  // detaching an unknown handle is harmless
  EXPECT_TRUE(s.backend.attach(0, GiB));  // and the handle can be attached again
}

TEST(KvmSlotBackend, DestructorDeletesAllSlotsAndReleasesBacking) {
  ShadowKvm kvm;
  SparseHostMemory host;
  {
    KvmSlotBackend backend(kvm, host, KvmBackendOptions{.smm = true});
    ASSERT_TRUE(backend.attach(0, 4 * GiB));
    ASSERT_TRUE(backend.apply(map_of({mapping(0), mapping(3)})));
    ASSERT_TRUE(backend.write(kGpa + 3 * GiB, pattern(1)));
    EXPECT_EQ(kvm.slot_count(), 4u);
    EXPECT_EQ(host.resident_pages(), 1u);
  }
  EXPECT_EQ(kvm.slot_count(), 0u);
  EXPECT_EQ(host.resident_pages(), 0u);
}

}  // namespace
}  // namespace vmemcheck
