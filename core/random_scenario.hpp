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
  // 0: no limit. Real KVM allocates metadata per mapped byte (about 0.5 GiB
  // per TiB): lockstep runs in a small guest cap the device size.
  uint64_t max_region_size = 0;
};

Scenario random_scenario(uint64_t seed, const RandomScenarioOptions& options = {});

}  // namespace vmemcheck::scenario
