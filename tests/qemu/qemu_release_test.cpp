#include "qemu_release.hpp"

#include <gtest/gtest.h>

#include "wire.hpp"

namespace vmemcheck {
namespace {

// as_on_qemu() reads only the features and the id of a config.
DeviceConfig good() {
  DeviceConfig config;
  config.id = "vm0";
  return config;
}

TEST(QemuRelease, ProfileSetsOfferedFeatures) {
  const DeviceConfig config = good();
  const auto on_7_2 = as_on_qemu(config, qemu_profile(QemuVersion::V7_2));
  ASSERT_TRUE(on_7_2);
  EXPECT_EQ(offered_features(*on_7_2), kFeatureAcpiPxm | kFeatureUnpluggedInaccessible);
  const auto on_10_0 = as_on_qemu(config, qemu_profile(QemuVersion::V10_0));
  ASSERT_TRUE(on_10_0);
  EXPECT_EQ(offered_features(*on_10_0), kFeatureAcpiPxm | kFeatureUnpluggedInaccessible | kFeaturePersistentSuspend);
  EXPECT_EQ(on_10_0->mode, config.mode);  // the mode is the caller's question
}

TEST(QemuRelease, ProfileRefusesWhatTheReleaseLacks) {
  DeviceConfig config = good();
  config.persistent_suspend = true;
  const auto refused = as_on_qemu(config, qemu_profile(QemuVersion::V7_2));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "device 'vm0': persistent-suspend=on (QEMU 7.2 does not offer it)");
  EXPECT_TRUE(as_on_qemu(config, qemu_profile(QemuVersion::V10_0)));
}

TEST(QemuRelease, VersionNames) {
  EXPECT_EQ(parse_qemu_version("7.2"), QemuVersion::V7_2);
  EXPECT_EQ(parse_qemu_version("10.0"), QemuVersion::V10_0);
  EXPECT_EQ(parse_qemu_version("10.0.2"), std::nullopt);  // releases, not micro versions
  EXPECT_EQ(parse_qemu_version("8.2"), std::nullopt);
  EXPECT_FALSE(qemu_profile(QemuVersion::V7_2).dynamic_memslots);
  EXPECT_TRUE(qemu_profile(QemuVersion::V10_0).dynamic_memslots);
}

TEST(QemuRelease, ReleaseOfAVersion) {
  EXPECT_EQ(release_of("7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)"), QemuVersion::V7_2);
  EXPECT_EQ(release_of("10.0.2"), QemuVersion::V10_0);
  EXPECT_EQ(release_of("10.1.50"), std::nullopt);  // a developer's tree
  EXPECT_EQ(release_of("10.0"), std::nullopt);      // not a version QEMU prints
  EXPECT_EQ(release_of("1.0.2"), std::nullopt);     // "1.0" is no prefix of "10.0"
}

TEST(QemuRelease, ProbedProfileDifferencesNamed) {
  QemuDeviceProfile probed = qemu_profile(QemuVersion::V10_0);
  EXPECT_EQ(profile_differences(probed, qemu_profile(QemuVersion::V10_0)), "");
  EXPECT_EQ(profile_differences(probed, qemu_profile(QemuVersion::V7_2)),
            "offered features 0x7 (table: 0x3), dynamic-memslots present (table: absent), ioeventfd present "
            "(table: absent), unplugged-inaccessible default on (table: auto), device_del removes (table: does "
            "not remove)");
  probed.name = "10.1.50";  // the name is no property of the device
  EXPECT_EQ(profile_differences(probed, qemu_profile(QemuVersion::V10_0)), "");
  EXPECT_EQ(describe(probed), "features 0x7, dynamic-memslots, ioeventfd, unplugged-inaccessible default on, "
                              "hotplug slots, device_del removes");
  probed.hotplug_slots = probed.removable = false;  // a build without pcie-root-port
  EXPECT_EQ(profile_differences(probed, qemu_profile(QemuVersion::V10_0)),
            "hotplug slots absent (table: present), device_del does not remove (table: removes)");
}

TEST(QemuRelease, ProbedProfileRunsWithoutTableEntry) {
  QemuDeviceProfile probed = qemu_profile(QemuVersion::V10_0);
  probed.name = "10.1.50";
  probed.offered_features = kFeatureAcpiPxm | kFeatureUnpluggedInaccessible;  // a tree that stopped offering PERSISTENT_SUSPEND
  DeviceConfig config = good();
  config.persistent_suspend = true;
  const auto refused = as_on_qemu(config, probed);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "device 'vm0': persistent-suspend=on (QEMU 10.1.50 does not offer it)");
}

}  // namespace
}  // namespace vmemcheck
