#include "sanitizer_report.hpp"

#include <gtest/gtest.h>

namespace vmemcheck::qemu {
namespace {

// The shape of an ASan report (abridged from a real one).
constexpr std::string_view kAsan =
    "=================================================================\n"
    "==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000f31 at pc 0x55d1 bp 0x7ffd\n"
    "READ of size 1 at 0x602000000f31 thread T0\n"
    "    #0 0x55d1 in virtio_mem_state_request hw/virtio/virtio-mem.c:712:9\n"
    "SUMMARY: AddressSanitizer: heap-buffer-overflow hw/virtio/virtio-mem.c:712:9 in virtio_mem_state_request\n"
    "==4242==ABORTING\n";

TEST(SanitizerReport, SummaryLineIsTheVerdict) {
  EXPECT_EQ(report_summary(kAsan),
            "SUMMARY: AddressSanitizer: heap-buffer-overflow hw/virtio/virtio-mem.c:712:9 in virtio_mem_state_request");
}

TEST(SanitizerReport, KeyMasksNumbers) {
  EXPECT_EQ(report_key(kAsan),
            "SUMMARY: AddressSanitizer: heap-buffer-overflow virtio-mem.c:N:N in virtio_mem_state_request");
  EXPECT_EQ(report_key("\n  x 0x1f at 12\n"), "  x N at N");  // no SUMMARY: the first line that has text
  // A crash's stderr (QemuCrashed): GLib's "**" line, then the assertion.
  EXPECT_EQ(report_key("**\nERROR:../../softmmu/memory.c:2049:memory_region_set_ram_discard_manager: assertion failed\n"),
            "memory.c:N:memory_region_set_ram_discard_manager: assertion failed");  // folders go, as a path's do
}

// As the instrumented build prints it (frame 0 is ASan's allocator, known by module and offset).
TEST(SanitizerReport, KeyHoldsNothingOfTheBuild) {
  const std::string a =
      "SUMMARY: AddressSanitizer: allocation-size-too-big (/opt/vmemcheck/qemu-build/10.0.2-897c37436bfa/build/"
      "qemu-system-x86_64+0xeaac5e) (BuildId: 02aa0a238d0f394420eebdfc0a595e087530e9b9) in __covrec_2D97524B3682B177u";
  EXPECT_EQ(report_key(a), "SUMMARY: AddressSanitizer: allocation-size-too-big   in __covrec_NDNBNBNu");
}

TEST(SanitizerReport, UbsanReportsShareAKeyAcrossLines) {
  const std::string a = "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ../src/hw/virtio/virtio-mem.c:100:5 in\n";
  const std::string b = "SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior ../src/hw/virtio/virtio-mem.c:107:9 in\n";
  EXPECT_EQ(report_key(a), report_key(b));
  EXPECT_EQ(report_key(""), "");
}

}  // namespace
}  // namespace vmemcheck::qemu
