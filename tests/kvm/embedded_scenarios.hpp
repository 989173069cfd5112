// The golden scenarios and the regression corpus, built into the KVM suite
// (the TCG guest has no source tree).
#pragma once

#include <string_view>
#include <vector>

namespace vmemcheck::kvm {

struct EmbeddedScenario {
  std::string_view name;
  std::string_view text;
};

const std::vector<EmbeddedScenario>& embedded_scenarios();

}  // namespace vmemcheck::kvm
