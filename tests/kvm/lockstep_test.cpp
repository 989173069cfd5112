// KVM_SET_USER_MEMORY_REGION on real KVM and on the shadow model, call by
// call: the answers must be equal, the refusals included.
#include <sys/mman.h>

#include <cerrno>

#include "kvm_fixture.hpp"
#include "lockstep_kvm_vm.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck::kvm {
namespace {

constexpr uint64_t GiB = uint64_t{1} << 30;

class Lockstep : public KvmTest {
 protected:
  void SetUp() override {
    KvmTest::SetUp();
    if (IsSkipped() || HasFailure()) return;
    auto vm = RealKvmVm::create();
    ASSERT_TRUE(vm) << vm.error().message;
    real = std::move(*vm);
    KvmLimits limits;
    limits.phys_bits = host_phys_bits();
    shadow = std::make_unique<ShadowKvm>(limits);
    lockstep = std::make_unique<LockstepKvmVm>(*real, *shadow);
    void* memory = mmap(nullptr, 8 * GiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(memory, MAP_FAILED);
    hva = reinterpret_cast<uint64_t>(memory);
  }
  void TearDown() override {
    if (hva) munmap(reinterpret_cast<void*>(hva), 8 * GiB);
  }
  // Both answers are equal; returns KVM's.
  int set(uint32_t slot, uint64_t gpa, uint64_t size, uint64_t host_offset = 0, uint32_t flags = 0) {
    const int rc = lockstep->set_user_memory_region({slot, flags, gpa, size, hva + host_offset});
    for (const auto& mismatch : lockstep->take_mismatches()) ADD_FAILURE() << mismatch;
    return rc;
  }

  std::unique_ptr<RealKvmVm> real;
  std::unique_ptr<ShadowKvm> shadow;
  std::unique_ptr<LockstepKvmVm> lockstep;
  uint64_t hva = 0;
};

TEST_F(Lockstep, KvmReportsItsLimits) {
  EXPECT_GE(real->max_memslots(), 509u);
  EXPECT_EQ(real->max_memslots(), shadow->max_memslots()) << "the shadow's default is Linux 6.1's x86 value";
  EXPECT_EQ(real->address_spaces(), 2u) << "x86 has the SMM address space";
}

TEST_F(Lockstep, CreateMoveAndDelete) {
  EXPECT_EQ(set(0, 4 * GiB, GiB), 0);
  EXPECT_EQ(set(0, 4 * GiB, GiB), 0);                           // unchanged: a no-op
  EXPECT_EQ(set(0, 8 * GiB, GiB), 0);                           // a move
  EXPECT_EQ(set(0, 8 * GiB, GiB, 0, kKvmMemLogDirtyPages), 0);  // flags only
  EXPECT_EQ(set(0, 8 * GiB, 0), 0);                             // delete
  EXPECT_EQ(shadow->slot_count(), 0u);
}

TEST_F(Lockstep, RefusesMisalignment) {
  EXPECT_EQ(set(0, 4 * GiB + 512, GiB), -EINVAL);
  EXPECT_EQ(set(0, 4 * GiB, GiB + 512), -EINVAL);
  EXPECT_EQ(set(0, 4 * GiB, GiB, 512), -EINVAL);
}

TEST_F(Lockstep, RefusesOverlapInOneAddressSpaceOnly) {
  ASSERT_EQ(set(0, 4 * GiB, 2 * GiB), 0);
  EXPECT_EQ(set(1, 5 * GiB, 2 * GiB, 2 * GiB), -EEXIST);
  EXPECT_EQ(set(1, 3 * GiB, 2 * GiB, 2 * GiB), -EEXIST);
  EXPECT_EQ(set(kvm_slot_id(kSmmAddressSpace, 1), 5 * GiB, 2 * GiB, 2 * GiB), 0);  // SMM is separate
  EXPECT_EQ(set(1, 6 * GiB, 2 * GiB, 2 * GiB), 0);                                 // adjacent is fine
}

TEST_F(Lockstep, RefusesLiveResizeAndRemap) {
  ASSERT_EQ(set(0, 4 * GiB, 2 * GiB), 0);
  EXPECT_EQ(set(0, 4 * GiB, GiB), -EINVAL);                // size change
  EXPECT_EQ(set(0, 4 * GiB, 2 * GiB, 2 * GiB), -EINVAL);   // host address change
  EXPECT_EQ(set(0, 4 * GiB, 2 * GiB, 0, kKvmMemReadonly), -EINVAL);  // readonly toggle
}

TEST_F(Lockstep, RefusesBadIdsSpacesFlagsAndDeletes) {
  EXPECT_EQ(set(real->max_memslots(), 4 * GiB, GiB), -EINVAL);       // past the slot limit
  EXPECT_EQ(set(real->max_memslots() - 1, 4 * GiB, GiB), 0);         // the last id
  EXPECT_EQ(set(kvm_slot_id(2, 0), 4 * GiB, GiB, GiB), -EINVAL);     // no third address space
  EXPECT_EQ(set(1, 16 * GiB, GiB, GiB, 1u << 7), -EINVAL);           // unknown flag
  EXPECT_EQ(set(7, 16 * GiB, 0), -EINVAL);                           // delete a missing slot
}

TEST_F(Lockstep, RefusesGpasBeyondThePhysicalAddressWidth) {
  const uint64_t top = uint64_t{1} << host_phys_bits();
  EXPECT_EQ(set(0, top - GiB, GiB), 0);
  EXPECT_EQ(set(1, top, GiB, GiB), -EINVAL);
  EXPECT_EQ(set(2, top - GiB, 2 * GiB, 2 * GiB), -EEXIST);  // overlap is checked first
}

// The lockstep must catch a shadow that is wrong: here one that believes in
// two more physical address bits than the host has.
TEST_F(Lockstep, PlantedMismatchIsCaught) {
  KvmLimits wrong;
  wrong.phys_bits = host_phys_bits() + 2;
  ShadowKvm planted(wrong);
  LockstepKvmVm checked(*real, planted);
  const uint64_t beyond = uint64_t{1} << host_phys_bits();
  EXPECT_EQ(checked.set_user_memory_region({0, 0, beyond, GiB, hva}), -EINVAL);
  const auto mismatches = checked.take_mismatches();
  ASSERT_EQ(mismatches.size(), 1u);
  EXPECT_NE(mismatches[0].find("KVM_SET_USER_MEMORY_REGION(slot=0:0"), std::string::npos) << mismatches[0];
  EXPECT_NE(mismatches[0].find("KVM answered -EINVAL, the shadow model 0"), std::string::npos) << mismatches[0];
}

}  // namespace
}  // namespace vmemcheck::kvm
