// What every KVM test starts with: /dev/kvm, or a skip that says why (a
// failure where the suite must run for real).
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <string>
#include <vector>

#include "kvm_platform.hpp"
#include "real_kvm_vm.hpp"
#include "scenario.hpp"
#include "compared_run.hpp"
#include "core_device_under_test.hpp"

namespace vmemcheck::kvm {

class KvmTest : public testing::Test {
 protected:
  void SetUp() override {
    if (const Status usable = kvm_usable(); !usable) {
      const char* required = std::getenv("VMEMCHECK_REQUIRE_KVM");
      if (required && std::string(required) == "1") FAIL() << "KVM is required here: " << usable.error().message;
      GTEST_SKIP() << "no usable KVM (" << usable.error().message
                   << "); ctest -L kvm runs this suite inside a TCG guest instead";
    }
  }
};

// Runs a text scenario on real KVM in lockstep with the shadow model; returns
// every problem (model, invariants, lockstep, vCPU probe, '=> OUTCOME').
inline std::vector<std::string> run_on_kvm(const std::string& text, const std::string& name = "<test>") {
  const auto parsed = scenario::parse(text, name);
  if (!parsed) return {parsed.error().message};
  KvmPlatform platform;
  scenario::RunOptions options;
  options.platform = &platform;
  std::vector<std::string> problems;
  scenario::CoreDeviceUnderTest core(options);
  const std::array<scenario::DeviceUnderTest*, 1> devices{&core};
  const auto run = scenario::run_compared(*parsed, devices, {.check_expectations = true, .stop_at_first_difference = false},
                                          [&](const scenario::ComparedStep& step) {
    for (const auto& problem : step.problems) {
      problems.push_back(name + ":" + std::to_string(step.line) + ": " + step.op_text + ": " + problem);
    }
  });
  if (run.error) problems.push_back(name + ": " + *run.error);
  return problems;
}

// The problems one per line, for a failure message.
inline std::string joined(const std::vector<std::string>& problems) {
  std::string out;
  for (const auto& problem : problems) out += problem + "\n";
  return out;
}

}  // namespace vmemcheck::kvm
