// QEMU's `info mtree` read back into the regions the core writes: what
// to_text() writes parses to the same region, QEMU's own listing (as 10.0.2
// printed it for seed 004's device) gives the device's subtree, and a line
// of another shape is an error that shows it.
#include "mtree_parser.hpp"

#include <gtest/gtest.h>

namespace vmemcheck::qemu {
namespace {

TEST(MtreeParser, ReadsBackWhatTheCoreWrites) {
  const MtreeRegion alias{2, 0x100000000, 0x1ffffffff, 0, "ram", "memslot-0",
                          MtreeRegion::Alias{"mem0", 0, 0xffffffff}};
  auto parsed = parse_mtree_line(to_text(alias));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, alias);
  const MtreeRegion plain{1, 0x140000000, 0x15fffffff, -1, "i/o", "virtio-mem", std::nullopt};
  parsed = parse_mtree_line(to_text(plain));
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(*parsed, plain);
}

constexpr const char* kInfoMtree =
    "address-space: cpu-memory-0\n"
    "address-space: memory\n"
    "  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n"
    "    0000000000000000-0000000007ffffff (prio 0, ram): alias ram-below-4g @pc.ram 0000000000000000-0000000007ffffff\n"
    "    0000000100000000-000001013fffffff (prio 0, i/o): device-memory\n"
    "      0000000100000000-00000100ffffffff (prio 0, i/o): virtio-mem\n"
    "        0000000100000000-00000001ffffffff (prio 0, ram): alias memslot-0 @mem0 0000000000000000-00000000ffffffff\n"
    "    00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi\n"
    "\n"
    "address-space: I/O\n"
    "  0000000000000000-000000000000ffff (prio 0, i/o): io\n";

TEST(MtreeParser, TheDeviceMemoryTreeAndADeviceInIt) {
  auto tree = device_memory_tree(kInfoMtree);
  ASSERT_TRUE(tree) << tree.error().message;
  ASSERT_EQ(tree->size(), 3u);
  EXPECT_EQ((*tree)[0].name, "device-memory");
  EXPECT_EQ((*tree)[0].depth, 0u);
  EXPECT_EQ((*tree)[2].depth, 2u);
  const auto device = device_subtree(*tree, 0x100000000);
  ASSERT_EQ(device.size(), 2u);
  EXPECT_EQ(to_text(device),
            "0000000100000000-00000100ffffffff (prio 0, i/o): virtio-mem\n"
            "  0000000100000000-00000001ffffffff (prio 0, ram): alias memslot-0 @mem0 0000000000000000-00000000ffffffff\n");
  EXPECT_TRUE(device_subtree(*tree, 0x200000000).empty());
}

TEST(MtreeParser, NoDeviceMemoryIsAnError) {
  auto tree = device_memory_tree("address-space: memory\n  0000000000000000-ffffffffffffffff (prio 0, i/o): system\n");
  ASSERT_FALSE(tree);
  EXPECT_EQ(tree.error().message, "info mtree shows no device-memory container in address space \"memory\"");
}

TEST(MtreeParser, ALineOfAnotherShapeIsAnErrorThatShowsIt) {
  for (const char* line : {"   0000-ffff (prio 0, i/o): odd indent", "  zzzz-ffff (prio 0, i/o): x",
                           "  0000-ffff (priority 0, i/o): x", "  0000-ffff (prio 0, i/o) x",
                           "  0000-ffff (prio 0, ram): alias memslot-0 mem0 0-f",
                           "  0000-ffff (prio 0, ram): alias memslot-0 @mem0 0-"}) {
    auto parsed = parse_mtree_line(line);
    ASSERT_FALSE(parsed) << line;
    EXPECT_EQ(parsed.error().code, ErrorCode::QemuProtocol);
    EXPECT_NE(parsed.error().message.find(line), std::string::npos) << parsed.error().message;
  }
}

}  // namespace
}  // namespace vmemcheck::qemu
