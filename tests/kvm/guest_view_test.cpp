// DESIGN §3 invariant 7 seen by a real vCPU: plugged blocks are readable and
// writable, a GPA in an unmapped memslot exits to the VMM, freshly plugged
// memory reads zero, and plugged data survives the (de)activation of other
// memslots and migration. Each scenario line's "=> ..." is the vCPU's result;
// the runner also checks every access against the reference model.
#include "kvm_fixture.hpp"

namespace vmemcheck::kvm {
namespace {

class GuestView : public KvmTest {};

TEST_F(GuestView, PluggedMemoryIsReadableAndWritable) {
  const auto problems = run_on_kvm(R"(
machine base=0x140000000 size=64G
device vmem0 size=16G block=2M requested=16G mode=dynamic => ok addr=0x140000000 memslots=16 slot-size=1G
plug vmem0 +0 1 => ACK
write vmem0 +8 0x1122334455667788 => ok
read vmem0 +8 => 0x1122334455667788
read vmem0 +16 => 0x0
)");
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

TEST_F(GuestView, UnmappedMemslotExitsToTheVmm) {
  const auto problems = run_on_kvm(R"(
machine base=0x140000000 size=64G
device vmem0 size=16G block=2M requested=16G mode=dynamic
plug vmem0 +0 1 => ACK
read vmem0 +1G => unmapped
write vmem0 +15G 0x1 => unmapped
# Inside a mapped memslot but unplugged: mapped, so readable (and zero).
read vmem0 +2M => 0x0
)");
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

TEST_F(GuestView, FreshlyPluggedMemoryReadsZero) {
  const auto problems = run_on_kvm(R"(
machine base=0x140000000 size=64G
device vmem0 size=16G block=2M requested=16G mode=dynamic
plug vmem0 +3G 2 => ACK
write vmem0 +3G 0xdead => ok
write vmem0 +3074M 0xbeef => ok
unplug vmem0 +3G 2 => ACK
read vmem0 +3G => unmapped
plug vmem0 +3G 2 => ACK
read vmem0 +3G => 0x0
read vmem0 +3074M => 0x0
)");
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

TEST_F(GuestView, DataSurvivesOtherMemslotsAndMigration) {
  const auto problems = run_on_kvm(R"(
machine base=0x140000000 size=64G smm=on
device vmem0 size=16G block=2M requested=16G mode=dynamic
plug vmem0 +5G 1 => ACK
write vmem0 +5G 0x5a5a5a5a => ok
plug vmem0 +4G 1 => ACK
plug vmem0 +6G 1 => ACK
unplug vmem0 +4G 1 => ACK
unplug-all vmem0 => ACK
read vmem0 +5G => unmapped
plug vmem0 +5G 1 => ACK
write vmem0 +5G 0x77 => ok
plug vmem0 +9G 512 => ACK
unplug vmem0 +9G 512 => ACK
read vmem0 +5G => 0x77
migrate vmem0 mode=fixed slot-size=256M => ok
expect vmem0 mapped=20
read vmem0 +5G => 0x77
migrate vmem0 mode=multiple unplugged-inaccessible=off => ok
read vmem0 +5G => 0x77
read vmem0 +15G => 0x0
)");
  EXPECT_TRUE(problems.empty()) << joined(problems);
}

}  // namespace
}  // namespace vmemcheck::kvm
