#include "device_config.hpp"

#include <gtest/gtest.h>

#include "wire.hpp"

namespace vmemcheck {
namespace {

DeviceConfig good() {
  DeviceConfig config;
  config.id = "vm0";
  config.addr = 0x140000000;
  config.region_size = 4 * GiB;
  config.requested_size = GiB;
  return config;
}

// The error message of validate(), or "" when the config is valid.
std::string error_of(const DeviceConfig& config, uint32_t numa_nodes = 1) {
  const Status status = validate(config, numa_nodes);
  return status ? std::string{} : status.error().message;
}

TEST(DeviceConfig, DefaultsAreX86) {
  const DeviceConfig config;
  EXPECT_EQ(config.block_size, 2 * MiB);
  EXPECT_EQ(config.page_size, 4 * KiB);
  EXPECT_EQ(config.arch, Arch::X86_64);
  EXPECT_EQ(config.mode, MemslotMode::Static);
  EXPECT_TRUE(config.unplugged_inaccessible);
  EXPECT_FALSE(config.addr.has_value());
}

TEST(DeviceConfig, ValidConfigPasses) {
  EXPECT_EQ(error_of(good()), "");
  DeviceConfig no_addr = good();
  no_addr.addr.reset();  // the machine assigns one later
  EXPECT_EQ(error_of(no_addr), "");
}

TEST(DeviceConfig, MessagesNameTheDevice) {
  DeviceConfig config = good();
  config.block_size = 3 * MiB;
  EXPECT_EQ(error_of(config), "device 'vm0': block-size 0x300000 is not a power of two");
}

TEST(DeviceConfig, BlockSizeNotPowerOfTwo) {
  DeviceConfig config = good();
  config.block_size = 0;
  EXPECT_NE(error_of(config).find("block-size 0x0 is not a power of two"), std::string::npos);
  config.block_size = 6 * MiB;
  EXPECT_NE(error_of(config).find("block-size 0x600000 is not a power of two"), std::string::npos);
}

TEST(DeviceConfig, BlockSizeBelowOneMebibyte) {
  DeviceConfig config = good();
  config.block_size = 512 * KiB;
  EXPECT_NE(error_of(config).find("block-size 512K is below the minimum of 1M"), std::string::npos);
  config.block_size = MiB;  // the minimum itself is fine
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, BlockSizeBelowPageSize) {
  DeviceConfig config = good();
  config.block_size = MiB;
  config.page_size = 2 * MiB;  // hugetlbfs backend
  EXPECT_NE(error_of(config).find("block-size 1M is below the backend page size 2M"), std::string::npos);
  config.block_size = 2 * MiB;
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, PageSizeNotPowerOfTwo) {
  DeviceConfig config = good();
  config.page_size = 0;
  EXPECT_NE(error_of(config).find("backend page size 0 is not a power of two"), std::string::npos);
  config.page_size = 12288;
  EXPECT_NE(error_of(config).find("backend page size 12288 is not a power of two"), std::string::npos);
}

TEST(DeviceConfig, RegionSizeZero) {
  DeviceConfig config = good();
  config.region_size = 0;
  config.requested_size = 0;
  EXPECT_NE(error_of(config).find("region size (memdev size) is 0"), std::string::npos);
}

TEST(DeviceConfig, RegionSizeUnaligned) {
  DeviceConfig config = good();
  config.region_size = GiB + MiB;
  EXPECT_NE(error_of(config).find("region size 0x40100000 is not a multiple of block-size 2M"),
            std::string::npos);
}

TEST(DeviceConfig, RegionSizeBeyondGuestPhysical) {
  DeviceConfig config = good();
  config.addr.reset();
  config.region_size = kMaxGuestPhysical + 2 * MiB;
  EXPECT_NE(error_of(config).find("region size 0x10000000200000 exceeds the 52-bit guest-physical address space"),
            std::string::npos);
  config.region_size = kMaxGuestPhysical;  // the whole address space is still a region
  config.requested_size = 0;
  EXPECT_EQ(error_of(config), "");
  config.addr = 0;
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, RequestedSizeUnaligned) {
  DeviceConfig config = good();
  config.requested_size = MiB;
  EXPECT_NE(error_of(config).find("requested-size 0x100000 is not a multiple of block-size 2M"),
            std::string::npos);
}

TEST(DeviceConfig, RequestedSizeBeyondRegion) {
  DeviceConfig config = good();
  config.requested_size = 4 * GiB + 2 * MiB;
  EXPECT_NE(error_of(config).find("requested-size 0x100200000 exceeds the region size 0x100000000"),
            std::string::npos);
  config.requested_size = 4 * GiB;
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, AddrUnaligned) {
  DeviceConfig config = good();
  config.addr = 0x140100000;
  EXPECT_NE(error_of(config).find("addr 0x140100000 is not a multiple of block-size 2M"),
            std::string::npos);
}

TEST(DeviceConfig, AddrEndsBeyondGuestPhysical) {
  DeviceConfig config = good();
  config.addr = kMaxGuestPhysical - 2 * GiB;
  EXPECT_NE(error_of(config).find("addr 0xfffff80000000 + size 0x100000000 ends beyond the 52-bit"),
            std::string::npos);
  config.addr = kMaxGuestPhysical - 4 * GiB;  // ends exactly at 2^52
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, NodeOutOfRange) {
  DeviceConfig config = good();
  config.node = 1;
  EXPECT_NE(error_of(config, 1).find("node 1 does not exist (the machine has 1 NUMA node)"),
            std::string::npos);
  config.node = 2;
  EXPECT_NE(error_of(config, 2).find("node 2 does not exist (the machine has 2 NUMA nodes)"),
            std::string::npos);
  config.node = 1;
  EXPECT_EQ(error_of(config, 2), "");
}

TEST(DeviceConfig, DynamicRequiresUnpluggedInaccessible) {
  DeviceConfig config = good();
  config.mode = MemslotMode::Dynamic;
  config.unplugged_inaccessible = false;
  EXPECT_NE(error_of(config).find(
                "'dynamic-memslots' set to 'on' requires 'unplugged-inaccessible' to be 'on'"),
            std::string::npos);
  config.unplugged_inaccessible = true;
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, MultipleAllowsUnpluggedAccessible) {
  // v2 maps by usable region when unplugged memory stays accessible.
  DeviceConfig config = good();
  config.mode = MemslotMode::Multiple;
  config.unplugged_inaccessible = false;
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, MemslotCountOutOfRange) {
  DeviceConfig config = good();
  config.mode = MemslotMode::Count;
  config.memslots = 0;
  EXPECT_NE(error_of(config).find("memslots=0 is outside 1..1024"), std::string::npos);
  config.memslots = 1025;
  EXPECT_NE(error_of(config).find("memslots=1025 is outside 1..1024"), std::string::npos);
  config.memslots = 1024;
  EXPECT_EQ(error_of(config), "");
  config.memslots = 1;
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, OptionsOfAnotherModeAreRefused) {
  DeviceConfig config = good();
  ASSERT_NE(config.mode, MemslotMode::Count);
  config.memslots = 8;
  EXPECT_NE(error_of(config).find("memslots=8 applies only to mode=count"), std::string::npos);
  config = good();
  ASSERT_NE(config.mode, MemslotMode::Fixed);
  config.fixed_slot_size = 256 * MiB;
  EXPECT_NE(error_of(config).find("slot-size=256M applies only to mode=fixed"), std::string::npos);
}

TEST(DeviceConfig, FixedSlotSizeMustBeBlockMultiple) {
  DeviceConfig config = good();
  config.mode = MemslotMode::Fixed;
  config.fixed_slot_size = 3 * MiB;
  EXPECT_NE(error_of(config).find("slot-size 0x300000 is not a non-zero multiple of block-size 2M"),
            std::string::npos);
  config.fixed_slot_size = 0;
  EXPECT_NE(error_of(config).find("slot-size 0x0 is not a non-zero multiple"), std::string::npos);
  config.fixed_slot_size = 128 * MiB;
  EXPECT_EQ(error_of(config), "");
}

TEST(DeviceConfig, FixedRequiresUnpluggedInaccessible) {
  DeviceConfig config = good();
  config.mode = MemslotMode::Fixed;
  config.unplugged_inaccessible = false;
  EXPECT_NE(error_of(config).find("require 'unplugged-inaccessible' to be 'on'"), std::string::npos);
}

TEST(DeviceConfig, UsableExtentPerArch) {
  EXPECT_EQ(usable_extent(Arch::X86_64), 256 * MiB);
  EXPECT_EQ(usable_extent(Arch::S390x), 256 * MiB);
  EXPECT_EQ(usable_extent(Arch::Arm64), GiB);
}

TEST(DeviceConfig, OfferedFeatures) {
  DeviceConfig config = good();
  EXPECT_EQ(offered_features(config), kFeatureAcpiPxm | kFeatureUnpluggedInaccessible);
  config.acpi = false;
  config.unplugged_inaccessible = false;
  EXPECT_EQ(offered_features(config), 0u);
  config.persistent_suspend = true;
  EXPECT_EQ(offered_features(config), kFeaturePersistentSuspend);
}

TEST(DeviceConfig, FeatureNegotiation) {
  DeviceConfig config = good();  // offers ACPI_PXM and UNPLUGGED_INACCESSIBLE
  EXPECT_TRUE(negotiate_features(config, kFeatureAcpiPxm | kFeatureUnpluggedInaccessible));
  EXPECT_TRUE(negotiate_features(config, kFeatureUnpluggedInaccessible));  // PXM is optional
  const auto refused = negotiate_features(config, kFeatureAcpiPxm);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("does not accept VIRTIO_MEM_F_UNPLUGGED_INACCESSIBLE"), std::string::npos);
  config.unplugged_inaccessible = false;
  EXPECT_TRUE(negotiate_features(config, 0));
}

// QEMU (virtio_set_features_nocheck) and Firecracker (ack_features_by_page)
// drop the bits a driver accepts that the device does not offer and keep
// FEATURES_OK; an unoffered bit never stands in for UNPLUGGED_INACCESSIBLE.
TEST(DeviceConfig, UnofferedFeatureBitsAreDropped) {
  DeviceConfig config = good();  // offers ACPI_PXM and UNPLUGGED_INACCESSIBLE
  EXPECT_EQ(negotiate_features(config, kFeatureUnpluggedInaccessible | kFeaturePersistentSuspend).value(),
            kFeatureUnpluggedInaccessible);
  EXPECT_EQ(negotiate_features(config, kFeatureAcpiPxm | kFeatureUnpluggedInaccessible | 0x8).value(),
            kFeatureAcpiPxm | kFeatureUnpluggedInaccessible);
  EXPECT_FALSE(negotiate_features(config, kFeatureAcpiPxm | kFeaturePersistentSuspend | 0x8));
  config.mode = MemslotMode::Fixed;  // Firecracker drops them too
  EXPECT_TRUE(negotiate_features(config, kFeatureUnpluggedInaccessible | 0x8));
}

// QEMU's memory_device_pre_plug: the size is a multiple of a RAM backend's
// 2 MiB alignment (QEMU_VMALLOC_ALIGN), which only 1 MiB blocks can miss,
// in every mode (Firecracker's blocks are at least 2 MiB).
TEST(DeviceConfig, AddressIsAlignedToTheRamBackendToo) {
  DeviceConfig config = good();
  config.block_size = MiB;
  config.requested_size = 0;
  config.addr = 0x140100000;
  EXPECT_EQ(placement_alignment(config), 2 * MiB);
  EXPECT_EQ(error_of(config), "device 'vm0': address must be aligned to 0x200000 bytes");
  config.addr = 0x140200000;
  EXPECT_EQ(error_of(config), "");
  config.block_size = 4 * MiB;
  EXPECT_EQ(placement_alignment(config), 4 * MiB);
}

TEST(DeviceConfig, SizeIsAMultipleOfTheRamBackendAlignment) {
  DeviceConfig config = good();
  config.block_size = MiB;
  config.requested_size = 0;
  config.region_size = 59 * MiB;
  EXPECT_EQ(error_of(config), "device 'vm0': backend memory size must be multiple of 0x200000");
  config.region_size = 58 * MiB;
  EXPECT_EQ(error_of(config), "");
  config.region_size = 59 * MiB;
  config.mode = MemslotMode::Fixed;
  config.fixed_slot_size = MiB;
  EXPECT_EQ(error_of(config), "device 'vm0': backend memory size must be multiple of 0x200000");
}

TEST(DeviceConfig, ModeNamesRoundTrip) {
  EXPECT_EQ(name(MemslotMode::Static), "static");
  EXPECT_EQ(name(MemslotMode::Count), "count");
  EXPECT_EQ(name(MemslotMode::Multiple), "multiple");
  EXPECT_EQ(name(MemslotMode::Dynamic), "dynamic");
  EXPECT_EQ(name(MemslotMode::Fixed), "fixed");
  for (auto mode : {MemslotMode::Static, MemslotMode::Count, MemslotMode::Multiple,
                    MemslotMode::Dynamic, MemslotMode::Fixed}) {
    EXPECT_EQ(parse_memslot_mode(name(mode)), mode);
  }
  EXPECT_EQ(parse_memslot_mode("Dynamic"), std::nullopt);
  EXPECT_EQ(parse_memslot_mode(""), std::nullopt);
}

TEST(DeviceConfig, ArchNamesRoundTrip) {
  EXPECT_EQ(name(Arch::X86_64), "x86_64");
  EXPECT_EQ(name(Arch::Arm64), "arm64");
  EXPECT_EQ(name(Arch::S390x), "s390x");
  for (auto arch : {Arch::X86_64, Arch::Arm64, Arch::S390x}) EXPECT_EQ(parse_arch(name(arch)), arch);
  EXPECT_EQ(parse_arch("aarch64"), std::nullopt);
}

}  // namespace
}  // namespace vmemcheck
