// The probe against the release table on the installed QEMUs
// (scripts/install-deps): Debian 12's 7.2 and bookworm-backports' 10.0 must
// probe as the table says, or the table (or the probe) is wrong.
#include "qemu_probe.hpp"

#include <gtest/gtest.h>

#include "qemu_binary.hpp"

namespace vmemcheck::qemu {
namespace {

void expect_probe_matches_table(QemuVersion version) {
  const auto probed = probe_qemu(installed_binary(version));
  ASSERT_TRUE(probed) << probed.error().message << " (scripts/install-deps installs it)";
  EXPECT_EQ(probed->release, version) << probed->version;
  EXPECT_EQ(profile_differences(probed->profile, qemu_profile(version)), "") << probed->version;
  EXPECT_EQ(probed->profile.name, qemu_profile(version).name);
}

TEST(QemuProbe, Release72AgreesWithTable) { expect_probe_matches_table(QemuVersion::V7_2); }
TEST(QemuProbe, Release100AgreesWithTable) { expect_probe_matches_table(QemuVersion::V10_0); }

TEST(QemuProbe, NotAQemuIsAnError) {
  const auto probed = probe_qemu("/bin/true");
  ASSERT_FALSE(probed);
  EXPECT_TRUE(probed.error().message.starts_with("probing QEMU /bin/true: ")) << probed.error().message;
}

}  // namespace
}  // namespace vmemcheck::qemu
