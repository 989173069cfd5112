// vmemcheck_proofs [--scenario-dir DIR] [PROOF...]
//
// Runs the named proofs (all when none is named), prints each claim's verdict
// and time and the total. Exit status 0 means: every claim proven.
#include <chrono>
#include <algorithm>
#include <vector>
#include <string_view>

#include <fmt/format.h>

#include "proofs.hpp"

namespace {

using vmemcheck::proofs::Prover;

struct Entry {
  std::string_view name;
  void (*run)(Prover&);
};

constexpr Entry kProofs[] = {
    {"layout", vmemcheck::proofs::layout_proof},
    {"request", vmemcheck::proofs::request_proof},
    {"usable", vmemcheck::proofs::usable_proof},
    {"index", vmemcheck::proofs::index_proof},
    {"activation", vmemcheck::proofs::activation_proof},
    {"budget", vmemcheck::proofs::budget_proof},
};

}  // namespace

int main(int argc, char** argv) {
  vmemcheck::proofs::Options options;
  std::vector<std::string_view> selected;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--scenario-dir" && i + 1 < argc) {
      options.scenario_dir = argv[++i];
    } else if (!arg.starts_with("-")) {
      selected.push_back(arg);
    } else {
      fmt::print(stderr, "usage: {} [--scenario-dir DIR] [PROOF...]\n", argv[0]);
      return 2;
    }
  }
  for (const auto name : selected) {
    bool known = false;
    for (const auto& entry : kProofs) known = known || entry.name == name;
    if (!known) {
      fmt::print(stderr, "unknown proof '{}'\n", name);
      return 2;
    }
  }
  int failures = 0;
  double total = 0;
  for (const auto& entry : kProofs) {
    if (!selected.empty() && std::find(selected.begin(), selected.end(), entry.name) == selected.end()) {
      continue;
    }
    Prover prover(options);
    entry.run(prover);
    total += prover.total_seconds();
    failures += prover.refuted();
  }
  fmt::print("total proof time: {:.2f} s\n", total);
  return failures == 0 ? 0 : 1;
}
