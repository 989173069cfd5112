// One proof built from a mutant of the code it proves (proofs/mutants/): a
// copy of core/decision with one change, as a developer's slip would make it.
// VMEMCHECK_MUTANT_PROOF names the proof's function (proofs.hpp).
//   proofs_mutant_NAME [--scenario-dir DIR]
// Exit status 0 when the proof finds the change (a claim refuted: a
// counterexample, or a claim no longer proven in time), 1 when every claim
// is still proven (the mutant survives), 2 on a bad command line.
#include <string_view>

#include <fmt/format.h>

#include "proofs.hpp"

int main(int argc, char** argv) {
  vmemcheck::proofs::Options options;
  options.stop_after_refutation = true;
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--scenario-dir" && i + 1 < argc) {
      options.scenario_dir = argv[++i];
    } else {
      fmt::print(stderr, "usage: {} [--scenario-dir DIR]\n", argv[0]);
      return 2;
    }
  }
  vmemcheck::proofs::Prover prover(options);
  vmemcheck::proofs::VMEMCHECK_MUTANT_PROOF(prover);
  fmt::print("{}", prover.report());
  if (prover.refuted() == 0) {
    fmt::print("the mutant survived: every claim is still proven\n");
    return 1;
  }
  fmt::print("the proof found the mutant\n");
  return 0;
}
