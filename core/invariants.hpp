// DESIGN §3's invariants, checked on a running machine after every step of a
// scenario, a property test or a fuzz input. Each violation is a sentence
// naming the invariant, the device and the values that broke it.
#pragma once

#include <string>
#include <vector>

#include "machine.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {

// Invariants 1-5 on every device, 5's machine budget, and 6 (the shadow KVM
// slot table equals the core's view) when `shadow` is given.
std::vector<std::string> check_invariants(const Machine& machine, const ShadowKvm* shadow);

}  // namespace vmemcheck
