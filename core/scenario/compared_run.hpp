// The one loop over devices under test (device_under_test.hpp): each op of a
// scenario is adapted, checked for support, applied to every device under
// test in order, and then their outcomes and the snapshots of every device
// they all have are compared with the first one's. `vmemcheck run` runs it
// with the core alone (which checks itself against the reference model),
// `vmemcheck qemu` with the core and a QEMU.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "device_under_test.hpp"
#include "scenario.hpp"

namespace vmemcheck::scenario {

struct ComparedRunOptions {
  // The scenario's "=> OUTCOME" expectations: checked by each device under
  // test (vmemcheck run), or dropped (vmemcheck qemu: ops skipped on every
  // side may change outcomes; the sides are compared instead).
  bool check_expectations = true;
  // End the run at the first difference (and at a device under test's own
  // problem); otherwise every step runs and each problem is reported.
  bool stop_at_first_difference = true;
};

// What one device under test did with a step.
struct Applied {
  std::string label;
  Outcome outcome;
};

struct ComparedStep {
  size_t step = 0;  // index into the scenario's steps
  int line = 0;
  std::string op_text;
  std::vector<Applied> applied;        // in device-under-test order; empty when skipped
  std::optional<std::string> skipped;  // why the op ran on none (or not on all) of them
  std::string output;                  // the first device under test's views
  std::vector<std::string> problems;   // its own problems and the differences found at this step
};

struct Difference {
  size_t step = 0;
  int line = 0;
  std::string op_text;
  // "response", "used length", "device", "resize", "features", "outcome",
  // "config", "needs-reset", "offered features", "accepted features",
  // "memslot decision", "memslots (info mtree)", or "core vs reference model"
  std::string what;
  std::string first_label, other_label;
  std::string first;  // the first device under test's value; listings have a line each
  std::string other;
};

// Per device under test, what it answered, for statistics and digests.
struct DeviceTally {
  std::map<std::string, size_t> answers;  // its answers to request chains ("ACK", "ERROR", "none ...")
  // Every outcome and listing in order, hashed (FNV-1a): equal digests mean
  // it answered two runs alike (a reused QEMU against one started afresh).
  uint64_t digest = 0;
  std::string decision;  // its last memslot decision, as decision_text() words it
};

struct ComparedRun {
  size_t steps = 0;
  size_t compared = 0;  // steps run on every device under test
  size_t skipped = 0;
  size_t problems = 0;  // the devices under test's own problems (all steps)
  size_t memslot_listings = 0;  // steps after which device-memory trees were compared
  std::map<std::string, size_t> skipped_kinds;    // op kind -> count
  std::map<std::string, size_t> skipped_reasons;  // reason -> count
  std::vector<DeviceTally> tallies;               // per device under test
  std::vector<std::string> notes;
  std::optional<Difference> difference;  // the first
  std::optional<std::string> error;      // a device under test could not be driven
  ErrorCode error_code = ErrorCode::Unspecified;  // and why (QEMU's sanitizer reported, died, ...)
  size_t error_step = 0;                 // at which step (an index into the scenario's steps)
};

ComparedRun run_compared(const Scenario& scenario, std::span<DeviceUnderTest* const> devices,
                         const ComparedRunOptions& options,
                         const std::function<void(const ComparedStep&)>& on_step = {});

// "N memslots of SIZE[, memslot-K SIZE]" or "one memslot, the whole backend ...".
std::string decision_text(const std::vector<uint64_t>& sizes);
// The text of a difference, for people (several lines when it holds listings).
std::string describe(const Difference& difference);

}  // namespace vmemcheck::scenario
