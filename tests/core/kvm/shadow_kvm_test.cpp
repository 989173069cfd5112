#include "shadow_kvm.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <utility>
#include <vector>

#include "units.hpp"

namespace vmemcheck {
namespace {

constexpr uint64_t kHva = TiB;  // any page-aligned user address

KvmRegion region(uint32_t slot, uint64_t gpa, uint64_t size, uint64_t hva = kHva, uint32_t flags = 0) {
  return {slot, flags, gpa, size, hva};
}

// Asserts a call's result and prints the call when it is wrong (selftest style).
#define EXPECT_SET(kvm, r, expected)                                                     \
  EXPECT_EQ(errno_name((kvm).set_user_memory_region(r)), errno_name(expected)) << describe(r)

TEST(ShadowKvm, CreatesSlot) {
  ShadowKvm kvm;
  const KvmRegion r = region(0, 4 * GiB, GiB);
  EXPECT_SET(kvm, r, 0);
  ASSERT_EQ(kvm.slot_count(), 1u);
  EXPECT_EQ(kvm.slots()[0], r);
  EXPECT_EQ(kvm.calls(), 1u);
}

TEST(ShadowKvm, DefaultLimitsAreX86) {
  ShadowKvm kvm;
  EXPECT_EQ(kvm.max_memslots(), 32764u);
  EXPECT_EQ(kvm.address_spaces(), 2u);
}

TEST(ShadowKvm, MisalignedSizeIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB + 512), -EINVAL);
  EXPECT_EQ(kvm.slot_count(), 0u);
}

TEST(ShadowKvm, MisalignedGpaIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB + 2048, GiB), -EINVAL);
  EXPECT_EQ(kvm.slot_count(), 0u);
}

TEST(ShadowKvm, MisalignedHvaIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB, kHva + 8), -EINVAL);
  EXPECT_EQ(kvm.slot_count(), 0u);
}

TEST(ShadowKvm, MisalignedByOneByteIsInvalid) {
  // KVM masks with PAGE_SIZE - 1: bit 0 counts too.
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB + 1), -EINVAL);
  EXPECT_SET(kvm, region(0, 4 * GiB + 1, GiB), -EINVAL);
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB, kHva + 1), -EINVAL);
  EXPECT_EQ(kvm.slot_count(), 0u);
}

TEST(ShadowKvm, HvaBeyondUserSpaceIsInvalid) {
  ShadowKvm kvm;
  const uint64_t task_size_max = (uint64_t{1} << 47) - 4096;
  EXPECT_SET(kvm, region(0, 0, 4096, task_size_max), -EINVAL);  // ends past TASK_SIZE_MAX
  EXPECT_SET(kvm, region(0, 0, 4096, task_size_max - 4096), 0);  // ends exactly there
  EXPECT_SET(kvm, region(1, GiB, 4096, uint64_t{1} << 47), -EINVAL);
}

TEST(ShadowKvm, HvaBoundAppliesToDeletesToo) {
  // access_ok(hva, 0) accepts hva == TASK_SIZE_MAX, nothing above it; the
  // check comes before KVM looks at the size.
  ShadowKvm kvm;
  const uint64_t task_size_max = (uint64_t{1} << 47) - 4096;
  EXPECT_SET(kvm, region(0, 0, GiB), 0);
  EXPECT_SET(kvm, region(0, 0, 0, task_size_max + 4096), -EINVAL);
  EXPECT_EQ(kvm.slot_count(), 1u);
  EXPECT_SET(kvm, region(0, 0, 0, task_size_max), 0);
  EXPECT_EQ(kvm.slot_count(), 0u);
}

TEST(ShadowKvm, SlotIdAtLimitIsInvalid) {
  ShadowKvm kvm(KvmLimits{.max_memslots = 4});
  EXPECT_SET(kvm, region(4, 0, GiB), -EINVAL);
  EXPECT_SET(kvm, region(3, 0, GiB), 0);
  // The limit applies to the id within each address space.
  EXPECT_SET(kvm, region(kvm_slot_id(kSmmAddressSpace, 4), 0, GiB), -EINVAL);
  EXPECT_EQ(kvm.slot_count(), 1u);
}

TEST(ShadowKvm, AddressSpaceTwoIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(kvm_slot_id(2, 0), 0, GiB), -EINVAL);
  EXPECT_SET(kvm, region(kvm_slot_id(1, 0), 0, GiB), 0);
  EXPECT_EQ(kvm.slot_count(), 1u);
}

TEST(ShadowKvm, UnknownFlagsAreInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 0, GiB, kHva, 1u << 2), -EINVAL);
  EXPECT_SET(kvm, region(0, 0, GiB, kHva, 1u << 31), -EINVAL);
  EXPECT_SET(kvm, region(0, 0, GiB, kHva, kKvmMemLogDirtyPages | kKvmMemReadonly), 0);
}

TEST(ShadowKvm, OverlapInSameAddressSpaceExists) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(1, 4 * GiB, GiB, kHva + GiB), -EEXIST);                  // identical range
  EXPECT_SET(kvm, region(1, 5 * GiB - 4096, 8192, kHva + GiB), -EEXIST);          // tail overlap
  EXPECT_SET(kvm, region(1, 3 * GiB, 2 * GiB + 4096, kHva + GiB), -EEXIST);       // covers it
  EXPECT_SET(kvm, region(1, 5 * GiB, GiB, kHva + GiB), 0);                        // adjacent
  EXPECT_SET(kvm, region(2, 3 * GiB, GiB, kHva + 2 * GiB), 0);                    // adjacent below
  EXPECT_EQ(kvm.slot_count(), 3u);
}

TEST(ShadowKvm, OverlapInOtherAddressSpaceIsFine) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(kvm_slot_id(kSmmAddressSpace, 7), 4 * GiB, GiB), 0);
  EXPECT_EQ(kvm.slot_count(), 2u);
}

TEST(ShadowKvm, SizeChangeOfLiveSlotIsInvalid) {
  ShadowKvm kvm;
  const KvmRegion r = region(0, 4 * GiB, GiB);
  EXPECT_SET(kvm, r, 0);
  EXPECT_SET(kvm, region(0, 4 * GiB, 2 * GiB), -EINVAL);
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB / 2), -EINVAL);
  EXPECT_EQ(kvm.slots()[0], r);
}

TEST(ShadowKvm, HvaChangeOfLiveSlotIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB, kHva + GiB), -EINVAL);
}

TEST(ShadowKvm, ReadonlyToggleOfLiveSlotIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB, kHva, kKvmMemReadonly), -EINVAL);
}

TEST(ShadowKvm, DirtyLoggingToggleIsFlagsOnlyChange) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB, kHva, kKvmMemLogDirtyPages), 0);
  EXPECT_EQ(kvm.slots()[0].flags, kKvmMemLogDirtyPages);
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_EQ(kvm.slots()[0].flags, 0u);
}

TEST(ShadowKvm, MovingLiveSlotIsAllowed) {
  // KVM_MR_MOVE: same id, size and hva, new guest-physical address.
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(0, 8 * GiB, GiB), 0);
  ASSERT_EQ(kvm.slot_count(), 1u);
  EXPECT_EQ(kvm.slots()[0].guest_phys_addr, 8 * GiB);
  // Moving onto part of its own old range is no overlap.
  EXPECT_SET(kvm, region(0, 8 * GiB + GiB / 2, GiB), 0);
}

TEST(ShadowKvm, MovingOntoAnotherSlotExists) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(1, 8 * GiB, GiB, kHva + GiB), 0);
  EXPECT_SET(kvm, region(0, 8 * GiB + GiB / 2, GiB), -EEXIST);
  EXPECT_EQ(kvm.slots()[0].guest_phys_addr, 4 * GiB);
}

// The overlap check looks only at the GPA-ordered neighbours of a region;
// random creates, moves and deletes over a crowded 64 GiB must give the
// answer of a scan over every slot of the address space.
TEST(ShadowKvm, OverlapAgreesWithAScanOfEverySlot) {
  ShadowKvm kvm;
  std::mt19937_64 random(7);
  uint64_t overlaps = 0;
  for (int call = 0; call < 20000; ++call) {
    const uint32_t id = static_cast<uint32_t>(random() % 48) | static_cast<uint32_t>(random() % 2) << 16;
    const uint64_t size = (1 + random() % 8) * 512 * MiB;
    const uint64_t gpa = (random() % 128) * 512 * MiB;
    const auto slots = kvm.slots();
    const auto old = std::find_if(slots.begin(), slots.end(), [&](const KvmRegion& r) { return r.slot == id; });
    // An existing slot can only move (same size and hva): keep those.
    const KvmRegion r = old != slots.end() && random() % 4 == 0
                            ? region(id, 0, 0)
                            : region(id, gpa, old != slots.end() ? old->memory_size : size,
                                     old != slots.end() ? old->userspace_addr : kHva + uint64_t{id & 0xffff} * 8 * GiB);
    bool overlap = false;
    for (const KvmRegion& other : slots) {
      overlap |= other.slot != id && (other.slot >> 16) == (id >> 16) && r.memory_size != 0 &&
                 r.guest_phys_addr < other.guest_phys_addr + other.memory_size &&
                 other.guest_phys_addr < r.guest_phys_addr + r.memory_size;
    }
    const bool unchanged = old != slots.end() && r.memory_size != 0 && old->guest_phys_addr == r.guest_phys_addr;
    const int rc = kvm.set_user_memory_region(r);
    if (r.memory_size == 0) {
      EXPECT_EQ(rc, 0);
    } else if (!unchanged) {
      EXPECT_EQ(rc, overlap ? -EEXIST : 0) << describe(r);
    }
    overlaps += rc == -EEXIST;
  }
  EXPECT_GT(overlaps, 1000u);
  EXPECT_GT(kvm.slot_count(), 20u);
}

TEST(ShadowKvm, IdenticalResetIsNoop) {
  ShadowKvm kvm;
  const KvmRegion r = region(0, 4 * GiB, GiB, kHva, kKvmMemLogDirtyPages);
  EXPECT_SET(kvm, r, 0);
  EXPECT_SET(kvm, r, 0);
  EXPECT_EQ(kvm.slot_count(), 1u);
  EXPECT_EQ(kvm.slots()[0], r);
  EXPECT_EQ(kvm.calls(), 2u);
}

// The invariant monitor follows the table through the journal: every change,
// and nothing for a call that changes nothing.
TEST(ShadowKvm, JournalFollowsEveryTableChange) {
  using Change = std::pair<KvmRegion, int>;
  const auto journal = [](const ShadowKvm& kvm) {
    std::vector<Change> out;
    for (const auto& change : kvm.journal()) out.emplace_back(change.region, change.delta);
    return out;
  };
  ShadowKvm kvm;
  kvm.keep_journal();
  const KvmRegion created = region(0, 4 * GiB, GiB);
  EXPECT_SET(kvm, created, 0);
  EXPECT_EQ(journal(kvm), (std::vector<Change>{{created, +1}}));
  kvm.clear_journal();
  EXPECT_SET(kvm, created, 0);  // identical: no change
  EXPECT_SET(kvm, region(1, 4 * GiB, GiB, kHva + GiB), -EEXIST);
  EXPECT_EQ(journal(kvm), std::vector<Change>{});
  const KvmRegion logging = region(0, 4 * GiB, GiB, kHva, kKvmMemLogDirtyPages);
  EXPECT_SET(kvm, logging, 0);  // flags only
  const KvmRegion moved = region(0, 8 * GiB, GiB, kHva, kKvmMemLogDirtyPages);
  EXPECT_SET(kvm, moved, 0);
  EXPECT_SET(kvm, region(0, 0, 0), 0);
  EXPECT_EQ(journal(kvm), (std::vector<Change>{{created, -1}, {logging, +1}, {logging, -1}, {moved, +1}, {moved, -1}}));
}

TEST(ShadowKvm, DeleteWithSizeZero) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  // The other fields of a delete do not have to match the slot.
  EXPECT_SET(kvm, region(0, 0, 0, 0), 0);
  EXPECT_EQ(kvm.slot_count(), 0u);
  // The gpa can be reused afterwards.
  EXPECT_SET(kvm, region(1, 4 * GiB, GiB), 0);
  // A delete may also name the slot's own gpa and hva (KvmSlotBackend does).
  EXPECT_SET(kvm, region(1, 4 * GiB, 0), 0);
  EXPECT_EQ(kvm.slot_count(), 0u);
}

TEST(ShadowKvm, DeleteOfMissingSlotIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 0, 0), -EINVAL);
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  // Same id in the SMM address space is a different slot.
  EXPECT_SET(kvm, region(kvm_slot_id(kSmmAddressSpace, 0), 0, 0), -EINVAL);
  EXPECT_EQ(kvm.slot_count(), 1u);
}

TEST(ShadowKvm, GpaBeyondPhysBitsIsInvalid) {
  ShadowKvm kvm;  // phys_bits 46: the last gfn must be below 2^34
  const uint64_t top = uint64_t{1} << 46;
  EXPECT_SET(kvm, region(0, top - 4096, 4096), 0);                      // ends exactly at 2^46
  EXPECT_SET(kvm, region(1, top, 4096, kHva + GiB), -EINVAL);           // starts at 2^46
  EXPECT_SET(kvm, region(2, top - GiB, GiB, kHva + 2 * GiB), -EEXIST);  // overlaps slot 0 first
  EXPECT_EQ(kvm.slot_count(), 1u);
}

TEST(ShadowKvm, PhysBitsFollowLimits) {
  ShadowKvm kvm(KvmLimits{.phys_bits = 40});
  EXPECT_SET(kvm, region(0, TiB - GiB, GiB), 0);
  EXPECT_SET(kvm, region(1, TiB, GiB, kHva + GiB), -EINVAL);
}

TEST(ShadowKvm, MoveBeyondPhysBitsIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 4 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(0, uint64_t{1} << 46, GiB), -EINVAL);
  EXPECT_EQ(kvm.slots()[0].guest_phys_addr, 4 * GiB);
}

TEST(ShadowKvm, OverlapIsCheckedBeforeMaxGfn) {
  // Linux 6.1 checks overlaps in __kvm_set_memory_region() and the x86 max gfn
  // later in kvm_arch_prepare_memory_region(): a slot that does both gets -EEXIST.
  ShadowKvm kvm;
  const uint64_t top = uint64_t{1} << 46;
  EXPECT_SET(kvm, region(0, top - GiB, GiB), 0);
  EXPECT_SET(kvm, region(1, top - GiB, 2 * GiB, kHva + GiB), -EEXIST);
}

TEST(ShadowKvm, WrappingGpaIsInvalid) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, UINT64_MAX - 4095, 8192), -EINVAL);
}

TEST(ShadowKvm, TooManyPagesIsInvalid) {
  // KVM_MEM_MAX_NR_PAGES = 2^31 - 1 pages: 8 TiB is one page too many.
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(0, 0, 8 * TiB, kHva), -EINVAL);
  EXPECT_SET(kvm, region(0, 0, 8 * TiB - 4096, kHva), 0);
}

TEST(ShadowKvm, SlotsOrderedByAddressSpaceThenId) {
  ShadowKvm kvm;
  EXPECT_SET(kvm, region(kvm_slot_id(1, 0), 0, GiB), 0);
  EXPECT_SET(kvm, region(5, 8 * GiB, GiB), 0);
  EXPECT_SET(kvm, region(2, 4 * GiB, GiB), 0);
  const auto slots = kvm.slots();
  ASSERT_EQ(slots.size(), 3u);
  EXPECT_EQ(slots[0].slot, 2u);
  EXPECT_EQ(slots[1].slot, 5u);
  EXPECT_EQ(slots[2].slot, 0x10000u);
}

TEST(ShadowKvm, CallsCountFailuresToo) {
  ShadowKvm kvm;
  (void)kvm.set_user_memory_region(region(0, 1, GiB));
  (void)kvm.set_user_memory_region(region(0, 0, GiB));
  EXPECT_EQ(kvm.calls(), 2u);
}

// One 1 TiB slot at 4 GiB: 2^28 4 KiB pages, 2^19 2 MiB pages, 2^10 1 GiB pages.
TEST(ShadowKvm, MetadataComponentsOfOneTebibyte) {
  const SlotMetadata tdp = slot_metadata(4 * GiB, TiB, MetadataModel{.tdp_mmu = true});
  EXPECT_EQ(tdp.gfn_track, 536870912u);            // 2 B per 4 KiB page
  EXPECT_EQ(tdp.lpage_info, 4u * (524288 + 1024));  // 4 B per 2 MiB and 1 GiB page
  EXPECT_EQ(tdp.rmap, 0u);                         // allocated lazily with the TDP MMU
  EXPECT_EQ(tdp.dirty_bitmaps, 0u);
  EXPECT_EQ(tdp.total(), 536870912u + 2101248u);

  const SlotMetadata shadow = slot_metadata(4 * GiB, TiB, MetadataModel{.tdp_mmu = false});
  EXPECT_EQ(shadow.rmap, 2147483648u + 4194304u + 8192u);  // 8 B per page of each level
  EXPECT_EQ(shadow.gfn_track, 536870912u);

  const SlotMetadata dirty =
      slot_metadata(4 * GiB, TiB, MetadataModel{.tdp_mmu = true, .dirty_logging = true});
  EXPECT_EQ(dirty.dirty_bitmaps, 2u * (268435456 / 8));  // two bitmaps, 1 bit per page
}

TEST(ShadowKvm, MetadataCountsLargePagesASlotTouches) {
  // 2 MiB at 1 MiB spans two 2 MiB pages and one 1 GiB page.
  const SlotMetadata m = slot_metadata(MiB, 2 * MiB, MetadataModel{.tdp_mmu = false});
  EXPECT_EQ(m.gfn_track, 2u * 512);
  EXPECT_EQ(m.lpage_info, 4u * (2 + 1));
  EXPECT_EQ(m.rmap, 8u * (512 + 2 + 1));
  EXPECT_EQ(slot_metadata(0, 0, MetadataModel{}).total(), 0u);
}

TEST(ShadowKvm, MetadataCountsTheLargePageOfTheLastPage) {
  // 2 MiB + 4 KiB at 0: the last page is the first of the second 2 MiB page.
  EXPECT_EQ(slot_metadata(0, 2 * MiB + 4096, MetadataModel{}).lpage_info, 4u * (2 + 1));
  // One page: one page of each large size.
  EXPECT_EQ(slot_metadata(0, 4096, MetadataModel{}).lpage_info, 4u * (1 + 1));
  EXPECT_EQ(slot_metadata(GiB - 4096, 4096, MetadataModel{.tdp_mmu = false}).rmap, 8u * (1 + 1 + 1));
}

// KVM counts a level's pages from the slot's first gfn to its last
// (__kvm_mmu_slot_lpages): 4 MiB straddling the 1 GiB boundary touches two
// 2 MiB pages and two 1 GiB pages, one on each side.
TEST(ShadowKvm, MetadataCountsTheLargePagesAcrossABoundary) {
  EXPECT_EQ(slot_metadata(GiB - 2 * MiB, 4 * MiB, MetadataModel{}).lpage_info, 4u * (2 + 2));
  EXPECT_EQ(slot_metadata(GiB - 2 * MiB, 4 * MiB, MetadataModel{.tdp_mmu = false}).rmap, 8u * (1024 + 2 + 2));
}

TEST(ShadowKvm, MetadataSumsEverySlotsComponents) {
  ShadowKvm kvm(KvmLimits{}, MetadataModel{.tdp_mmu = false});
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 4 * GiB, GiB, kHva, kKvmMemLogDirtyPages)), 0);
  ASSERT_EQ(kvm.set_user_memory_region(region(kvm_slot_id(kSmmAddressSpace, 3), MiB, 2 * MiB, kHva + GiB)), 0);
  const SlotMetadata a = slot_metadata(4 * GiB, GiB, MetadataModel{.tdp_mmu = false, .dirty_logging = true});
  const SlotMetadata b = slot_metadata(MiB, 2 * MiB, MetadataModel{.tdp_mmu = false});
  const SlotMetadata sum = kvm.metadata();
  EXPECT_EQ(sum.rmap, a.rmap + b.rmap);
  EXPECT_EQ(sum.gfn_track, a.gfn_track + b.gfn_track);
  EXPECT_EQ(sum.lpage_info, a.lpage_info + b.lpage_info);
  EXPECT_EQ(sum.dirty_bitmaps, a.dirty_bitmaps);
  EXPECT_GT(b.lpage_info, 0u);
}

TEST(ShadowKvm, MetadataDirtyBitmapsRoundToLongs) {
  const SlotMetadata m = slot_metadata(0, 4096, MetadataModel{.dirty_logging = true});
  EXPECT_EQ(m.dirty_bitmaps, 16u);  // 1 page -> one 8-byte long per bitmap
}

double gib(uint64_t bytes) { return static_cast<double>(bytes) / static_cast<double>(GiB); }

// The seeds' table for a 1 TiB memslot, within 5 %.
TEST(ShadowKvm, SeedFiguresTdpNoSmm) {
  ShadowKvm kvm(KvmLimits{}, MetadataModel{.tdp_mmu = true});
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 4 * GiB, TiB)), 0);
  EXPECT_NEAR(gib(kvm.metadata().total()), 0.5, 0.5 * 0.05);
}

TEST(ShadowKvm, SeedFiguresTdpWithSmm) {
  ShadowKvm kvm(KvmLimits{}, MetadataModel{.tdp_mmu = true});
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 4 * GiB, TiB)), 0);
  ASSERT_EQ(kvm.set_user_memory_region(region(kvm_slot_id(kSmmAddressSpace, 0), 4 * GiB, TiB)), 0);
  EXPECT_NEAR(gib(kvm.metadata().total()), 1.0, 1.0 * 0.05);
}

TEST(ShadowKvm, SeedFiguresNoTdpNoSmm) {
  ShadowKvm kvm(KvmLimits{}, MetadataModel{.tdp_mmu = false});
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 4 * GiB, TiB)), 0);
  EXPECT_NEAR(gib(kvm.metadata().total()), 2.5, 2.5 * 0.05);
}

TEST(ShadowKvm, SeedFiguresNoTdpWithSmm) {
  ShadowKvm kvm(KvmLimits{}, MetadataModel{.tdp_mmu = false});
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 4 * GiB, TiB)), 0);
  ASSERT_EQ(kvm.set_user_memory_region(region(kvm_slot_id(kSmmAddressSpace, 0), 4 * GiB, TiB)), 0);
  EXPECT_NEAR(gib(kvm.metadata().total()), 5.0, 5.0 * 0.05);
}

TEST(ShadowKvm, MetadataFollowsPerSlotDirtyFlag) {
  ShadowKvm kvm;
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 4 * GiB, GiB)), 0);
  EXPECT_EQ(kvm.metadata().dirty_bitmaps, 0u);
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 4 * GiB, GiB, kHva, kKvmMemLogDirtyPages)), 0);
  EXPECT_EQ(kvm.metadata().dirty_bitmaps, 2u * (262144 / 8));
  ASSERT_EQ(kvm.set_user_memory_region(region(0, 0, 0)), 0);
  EXPECT_EQ(kvm.metadata().total(), 0u);
}

TEST(ShadowKvm, DescribeAndErrnoNames) {
  EXPECT_EQ(describe(region(kvm_slot_id(1, 3), 0x140000000, 0x40000000, 0x10000000000, 1)),
            "KVM_SET_USER_MEMORY_REGION(slot=1:3, flags=0x1, gpa=0x140000000, size=0x40000000, "
            "hva=0x10000000000)");
  EXPECT_EQ(errno_name(0), "0");
  EXPECT_EQ(errno_name(-EINVAL), "-EINVAL");
  EXPECT_EQ(errno_name(-EEXIST), "-EEXIST");
  EXPECT_EQ(errno_name(-ENOMEM), "-ENOMEM");
  EXPECT_EQ(errno_name(-EFAULT), "-EFAULT");
  EXPECT_EQ(errno_name(-ENOSPC), "-ENOSPC");
  EXPECT_EQ(errno_name(-EIO), "-EIO");
  EXPECT_EQ(errno_name(-EPERM).rfind("-1 (", 0), 0u);
}

}  // namespace
}  // namespace vmemcheck
