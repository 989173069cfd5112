// QEMU's kvm_set_user_memory trace lines (as QEMU 10.0.2 wrote them on KVM
// in the TCG guest) and the call-by-call comparison with the core's backend:
// slot ids compared through their pairing, and each kind of difference named.
#include "kvm_calls.hpp"

#include <gtest/gtest.h>

namespace vmemcheck::qemu {
namespace {

TEST(KvmCalls, ParsesQemusTraceLine) {
  const auto call = parse_kvm_trace_line(
      "kvm_set_user_memory AddrSpace#1 Slot#7 flags=0x0 gpa=0x140000000 size=0x40000000 ua=0x7f59dfe00000 "
      "guest_memfd=-1 guest_memfd_offset=0x0 ret=0");
  ASSERT_TRUE(call);
  EXPECT_EQ(*call, (KvmCall{1, 7, 0, 0x140000000, 0x40000000}));
  // The log backend's "PID@TIME:" prefix; a delete is size 0.
  const auto deleted = parse_kvm_trace_line(
      "1234@1700000000.000001:kvm_set_user_memory AddrSpace#0 Slot#2 flags=0x2 gpa=0xfeda0000 size=0x0 ua=0x0 ret=0");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(*deleted, (KvmCall{0, 2, 2, 0xfeda0000, 0}));
  // QEMU 7.2's line: the address space in the slot's bits 16..31.
  const auto old_line = parse_kvm_trace_line(
      "kvm_set_user_memory Slot#65540 flags=0x0 gpa=0x100000000 size=0x80000000 ua=0x7fc17fe00000 ret=0");
  ASSERT_TRUE(old_line);
  EXPECT_EQ(*old_line, (KvmCall{1, 4, 0, 0x100000000, 0x80000000}));
  EXPECT_FALSE(parse_kvm_trace_line("virtio_mem_plug_request addr=0x100000000 nb_blocks=64"));
  EXPECT_FALSE(parse_kvm_trace_line("kvm_set_user_memory AddrSpace#0 Slot#2 flags=0x0"));
}

TEST(KvmCalls, TheCoresSlotIdFromItsRegion) {
  EXPECT_EQ(kvm_call(KvmRegion{kvm_slot_id(1, 9), 0, 0x100000000, 0x40000000, 0x7000}),
            (KvmCall{1, 9, 0, 0x100000000, 0x40000000}));
}

KvmCallGroup group(std::vector<KvmCall> qemu, std::vector<KvmCall> core) { return {"  op\n", std::move(qemu), std::move(core)}; }

TEST(KvmCalls, SlotIdsAreComparedThroughTheirPairing) {
  // QEMU's slot 6 is the core's 9 until deleted; then QEMU's 6 may pair with the core's 10.
  const auto c = compare_kvm_calls({group({{0, 6, 0, 0x100000000, 0x40000000}}, {{0, 9, 0, 0x100000000, 0x40000000}}),
                                    group({{0, 6, 0, 0x100000000, 0}}, {{0, 9, 0, 0x100000000, 0}}),
                                    group({{0, 6, 0, 0x140000000, 0x40000000}}, {{0, 10, 0, 0x140000000, 0x40000000}})});
  EXPECT_EQ(c.compared, 3u);
  EXPECT_EQ(c.differences, 0u) << c.listing;
}

TEST(KvmCalls, EachDifferenceIsNamed) {
  // A wrong size, a call the core does not make, and a slot id that breaks its pairing.
  auto c = compare_kvm_calls({group({{0, 6, 0, 0x100000000, 0x40000000}}, {{0, 9, 0, 0x100000000, 0x3fe00000}})});
  ASSERT_EQ(c.differences, 1u);
  EXPECT_NE(c.difference_lines[0].find("gpa, size or flags differ"), std::string::npos) << c.difference_lines[0];
  c = compare_kvm_calls({group({{0, 6, 0, 0x100000000, 0x40000000}, {1, 1, 0, 0x100000000, 0x40000000}},
                               {{0, 9, 0, 0x100000000, 0x40000000}})});
  ASSERT_EQ(c.differences, 1u);
  EXPECT_NE(c.difference_lines[0].find("QEMU makes a call the core does not"), std::string::npos);
  c = compare_kvm_calls({group({{0, 6, 0, 0x100000000, 0x40000000}, {0, 7, 0, 0x140000000, 0x40000000}},
                               {{0, 9, 0, 0x100000000, 0x40000000}, {0, 9, 0, 0x140000000, 0x40000000}})});
  ASSERT_EQ(c.differences, 1u);
  EXPECT_NE(c.difference_lines[0].find("the core's slot 9 is QEMU's slot 6, not 7"), std::string::npos)
      << c.difference_lines[0];
}

}  // namespace
}  // namespace vmemcheck::qemu
