// The KVM suite's main: runs the GoogleTest cases and ends with the closing
// line the CI script looks for, "kvm suite: N passed, M failed, K skipped".
// Without /dev/kvm every test skips with the reason, unless
// VMEMCHECK_REQUIRE_KVM=1 (set inside the TCG guest), where that is a failure.
#include <gtest/gtest.h>

#include <cstdio>
#include <string_view>

#include "real_kvm_vm.hpp"

int main(int argc, char** argv) {
  // run-kvm-suite asks first whether this machine's KVM can run the suite natively.
  if (argc == 2 && std::string_view(argv[1]) == "--check-kvm") {
    const vmemcheck::Status usable = vmemcheck::kvm::kvm_usable();
    std::printf("%s\n", usable ? "usable" : usable.error().message.c_str());
    return usable ? 0 : 1;
  }
  testing::InitGoogleTest(&argc, argv);
  const int status = RUN_ALL_TESTS();
  const testing::UnitTest& unit = *testing::UnitTest::GetInstance();
  std::printf("kvm suite: %d passed, %d failed, %d skipped\n", unit.successful_test_count(),
              unit.failed_test_count(), unit.skipped_test_count());
  std::fflush(stdout);
  return status;
}
