// Random scenarios for property tests and soak runs: random machine and
// device geometry over every memslot mode, then ops biased towards the
// places bugs hide (usable-region and memslot edges, partial memslots,
// faults, migrations between modes). Deterministic in the seed, so every
// finding replays. The same builder, fed by fuzzer bytes instead of a PRNG,
// is the op grammar of the fuzz decoder (fuzz_decoder.hpp).
#pragma once

#include <array>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

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

// Where the builder's choices come from.
class Choices {
 public:
  virtual ~Choices() = default;
  // A value in [0, n); n >= 1.
  virtual uint64_t below(uint64_t n) = 0;
};

// Choices from a seeded PRNG (random_scenario's own, for generators elsewhere).
class SeededChoices final : public Choices {
 public:
  explicit SeededChoices(uint64_t seed) : rng_(seed) {}
  uint64_t below(uint64_t n) override { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

 private:
  std::mt19937_64 rng_;
};

// Appends biased random operations to a scenario.
class ScenarioBuilder {
 public:
  struct DeviceShape {
    std::string id;
    uint64_t region;
    uint64_t block;
    uint64_t slot_hint;  // a slot size the device may use, for edge-biased addresses
    DeviceConfig config;  // as added: a removed device comes back with it
  };

  ScenarioBuilder(Choices& choices, const RandomScenarioOptions& options) : choices_(choices), options_(options) {
    scenario_.steps.reserve(options.ops + 16);  // the set-up and a few multi-step ops: no regrowth
  }

  void add(Op op) { scenario_.steps.push_back({std::move(op), std::nullopt, 0}); }
  // A machine with random SMM, NUMA nodes and (rarely) a small KVM memslot limit.
  void add_machine();
  // A device of random geometry and memslot mode; rarely an invalid one.
  AddDevice& add_device(const std::string& id);
  // A device of a geometry the caller chose (targets with their own geometries).
  void add_device(const DeviceConfig& config);
  // One operation on a random device added before.
  void add_op();
  // Write, unplug, plug and read one word (invariant 7 where unplugged
  // memory comes back), or write, migrate and read.
  void add_guest_data_round_trip(const DeviceShape& d);
  // A hot-remove, often of a device with plugged blocks, and the device back.
  void add_remove(const DeviceShape& d);
  // The driver's accepted feature bits, unoffered ones included.
  uint64_t driver_features();

  // Device-relative addresses near the interesting edges (rarely an absolute,
  // wrapping one), often one used just before: bugs show when a write, a
  // plug and a read meet at one block.
  Address address(const DeviceShape& d);
  uint16_t nb_blocks(const DeviceShape& d);
  uint64_t size_for(const DeviceShape& d);

  uint64_t below(uint64_t n) { return choices_.below(n); }
  bool chance(uint64_t one_in) { return below(one_in) == 0; }
  template <class T>
  const T& pick(const std::vector<T>& items) { return items[below(items.size())]; }
  template <class T, size_t N>
  const T& pick(const std::array<T, N>& items) { return items[below(N)]; }
  const std::vector<DeviceShape>& shapes() const { return shapes_; }
  Scenario take(std::string name);

 private:
  Choices& choices_;
  RandomScenarioOptions options_;
  Scenario scenario_;
  Address fresh_address(const DeviceShape& d);
  void break_config(DeviceConfig& config);

  std::vector<DeviceShape> shapes_;
  std::vector<Address> recent_addresses_;  // the last few address() results, newest last
  uint64_t numa_nodes_ = 1;
};

}  // namespace vmemcheck::scenario
