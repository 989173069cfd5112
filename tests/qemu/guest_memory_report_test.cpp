// The guest's memory check read from its console lines and judged against
// QEMU's plugged blocks: memory never given must not be RAM.
#include <gtest/gtest.h>

#include "guest_memory_report.hpp"
#include "units.hpp"

namespace vmemcheck::qemu {
namespace {

GuestMemoryReport report_of(std::initializer_list<std::string_view> lines, uint64_t plugged) {
  GuestMemoryReport report;
  report.plugged = plugged;
  for (const std::string_view line : lines) EXPECT_TRUE(read_report_line(line, report));
  return report;
}

const GuestMemoryReport kBoot = report_of({"vmemcheck-online: 0x100000000-0x107ffffff\r",
                                           "vmemcheck-pattern: memtotal=600000 allocated=256 device=100 mismatches=0"},
                                          128 * MiB);

TEST(GuestMemoryReport, ReadsTheGuestsLines) {
  EXPECT_EQ(kBoot.memtotal_kib, 600000u);
  EXPECT_EQ(kBoot.in_device_mib, 100u);
  ASSERT_EQ(kBoot.online.size(), 1u);
  EXPECT_EQ(kBoot.online[0], (std::pair<uint64_t, uint64_t>{0x100000000, 0x107ffffff}));
  GuestMemoryReport bad;
  EXPECT_FALSE(read_report_line("vmemcheck-online: 0x100000000", bad));
}

TEST(GuestMemoryReport, AGuestThatUsesOnlyWhatQemuPluggedPasses) {
  const auto plugged = [](const GuestMemoryReport&) { return std::set<uint64_t>{0x100000000}; };
  EXPECT_TRUE(judge_guest_memory({kBoot}, 2 * MiB, plugged).empty());
}

TEST(GuestMemoryReport, AnOnlineBlockQemuNeverPluggedIsAProblem) {
  const auto nothing = [](const GuestMemoryReport&) { return std::set<uint64_t>{}; };
  const auto problems = judge_guest_memory({kBoot}, 2 * MiB, nothing);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("memory block 0x100000000-0x107ffffff is online but QEMU plugged none of it"),
            std::string::npos);
}

TEST(GuestMemoryReport, RamThatDoesNotFollowThePluggedSizeIsAProblem) {
  const GuestMemoryReport grown = report_of({"vmemcheck-online: none",
                                             "vmemcheck-pattern: memtotal=700000 allocated=0 device=0 mismatches=3"},
                                            0);
  const auto plugged = [](const GuestMemoryReport& r) {
    return r.plugged ? std::set<uint64_t>{0x100000000} : std::set<uint64_t>{};
  };
  const auto problems = judge_guest_memory({kBoot, grown}, 2 * MiB, plugged);
  ASSERT_EQ(problems.size(), 2u);
  EXPECT_NE(problems[0].find("3 pattern words read back wrong"), std::string::npos);
  EXPECT_NE(problems[1].find("the guest's RAM changed by 100000 KiB since the first checkpoint, QEMU's plugged size by "
                             "-131072 KiB"), std::string::npos);
}

}  // namespace
}  // namespace vmemcheck::qemu
