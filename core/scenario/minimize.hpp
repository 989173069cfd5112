// Shrinks a failing scenario to a small one that fails with the same first
// problem. "The same" is the campaign's deduplication key: the first problem's
// text with every number masked, so a smaller size or another device index
// still counts as the same finding, while another kind of problem does not.
//
// Two passes, repeated until neither shrinks anything:
//   1. delta debugging (ddmin) over the steps: drop chunks of steps, halving
//      the chunk size down to single steps;
//   2. each step's numbers and device options, one at a time: back to the
//      default, else to 0, 1 or a smaller value (fewer blocks, lower offsets,
//      smaller sizes); migration overrides and poked bytes dropped.
// Every candidate goes through the text form (to_text, then parse), so the
// result runs as written with `vmemcheck run`. Deterministic: no randomness,
// candidates in a fixed order.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "scenario.hpp"

namespace vmemcheck::scenario {

struct Failure {
  size_t step = 0;      // 0-based index of the first step with a problem
  std::string problem;  // that step's first problem
};

// The first problem a scenario runs into (model and invariant checks on), if any.
std::optional<Failure> first_failure(const Scenario& scenario);

// The deduplication key of a problem: every number (decimal or hex) masked as N.
std::string failure_key(std::string_view problem);

struct Minimized {
  Scenario scenario;  // ends at its failing step
  Failure failure;
  size_t runs = 0;  // candidate scenarios run
};

// How a candidate is run: first_failure, or a caller's wrapper around it
// (the CLI runs each candidate in a child process, so that a candidate that
// crashes the core is only a different failure).
using FailureProbe = std::function<std::optional<Failure>(const Scenario&)>;

// Nothing when `scenario` does not fail. `max_runs` bounds the work (a
// candidate run costs microseconds to milliseconds).
std::optional<Minimized> minimize(const Scenario& scenario, size_t max_runs = 200000,
                                  const FailureProbe& probe = first_failure);

}  // namespace vmemcheck::scenario
