#include "guest_ram.hpp"

#include <gtest/gtest.h>

#include <array>

#include "kvm_slot_backend.hpp"
#include "shadow_kvm.hpp"
#include "units.hpp"

namespace vmemcheck {
namespace {

TEST(GuestRam, ReadsZeroUntilWrittenAndKeepsData) {
  GuestRam ram(0x1000, 16 * KiB);
  std::array<uint8_t, 4> out{1, 1, 1, 1};
  ASSERT_TRUE(ram.read(0x1000, out));
  EXPECT_EQ(out, (std::array<uint8_t, 4>{}));
  const std::array<uint8_t, 4> data{1, 2, 3, 4};
  ASSERT_TRUE(ram.write(0x1000 + 4094, data));  // crosses a page
  ASSERT_TRUE(ram.read(0x1000 + 4094, out));
  EXPECT_EQ(out, data);
}

TEST(GuestRam, RefusesAccessesOutsideItsRange) {
  GuestRam ram(0x1000, 0x1000);
  std::array<uint8_t, 4> out{};
  EXPECT_FALSE(ram.read(0xffe, out));                // starts below
  EXPECT_FALSE(ram.read(0x1ffe, out));               // runs past the end
  EXPECT_FALSE(ram.write(0x2000, out));              // just past the end
  EXPECT_FALSE(ram.accessible(~uint64_t{0} - 1, 4));  // would wrap
  EXPECT_TRUE(ram.read(0x1ffc, out));
  EXPECT_TRUE(ram.accessible(0x5000, 0));  // nothing to access
}

TEST(GuestAddressSpace, BootRamThenDeviceMemslots) {
  ShadowKvm kvm;
  SparseHostMemory host;
  KvmSlotBackend devices(kvm, host);
  ASSERT_TRUE(devices.attach(0, GiB));
  ASSERT_TRUE(devices.apply({{}, {{0, 0, 4 * GiB, GiB, 0}}}));
  GuestRam ram(0, 64 * KiB);
  GuestAddressSpace space(ram, devices);
  const std::array<uint8_t, 2> data{7, 8};
  EXPECT_TRUE(space.write(0x100, data));
  EXPECT_TRUE(space.write(4 * GiB + 0x100, data));
  EXPECT_FALSE(space.write(64 * KiB - 1, data));  // split between RAM and nothing
  EXPECT_FALSE(space.accessible(64 * KiB, 1));
  EXPECT_TRUE(space.accessible(4 * GiB, GiB));
  EXPECT_FALSE(space.accessible(4 * GiB, GiB + 1));
}

}  // namespace
}  // namespace vmemcheck
