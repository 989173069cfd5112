// What every fuzz target does with its input: decode it with the shared
// decoder (core/scenario/fuzz_decoder.hpp), run the steps on the runner, which
// compares the core with the reference model and checks DESIGN §3's
// invariants after each, and abort on the first problem after printing the
// scenario so far as text.
#pragma once

#include <cstdint>
#include <span>

#include "fuzz_decoder.hpp"
#include "platform.hpp"

namespace vmemcheck::fuzz {

// platform: null for the shadow model alone (every target but kvm_lockstep).
void run_checked(Target target, std::span<const uint8_t> bytes, Platform* platform = nullptr);

}  // namespace vmemcheck::fuzz
