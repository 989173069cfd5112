// The proofs of issue 6, one file each; main.cpp runs them.
#pragma once

#include "prove.hpp"

namespace vmemcheck::proofs {

void layout_proof(Prover& p);      // layout_proof.cpp
void request_proof(Prover& p);     // request_proof.cpp
void usable_proof(Prover& p);      // usable_proof.cpp
// Not written yet (README): touched index ranges, activation step, machine budget.

}  // namespace vmemcheck::proofs
