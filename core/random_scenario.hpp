// Random scenarios for property tests and soak runs: random machine and
// device geometry over every memslot mode, then ops biased towards the
// places bugs hide (usable-region and memslot edges, partial memslots,
// faults, migrations between modes). Deterministic in the seed, so every
// finding replays.
#pragma once

#include <cstdint>

#include "scenario.hpp"

namespace vmemcheck::scenario {

struct RandomScenarioOptions {
  uint64_t ops = 200;            // operations after the set-up
  uint64_t max_region_blocks = 16384;  // keeps the per-block reference model fast
};

Scenario random_scenario(uint64_t seed, const RandomScenarioOptions& options = {});

}  // namespace vmemcheck::scenario
