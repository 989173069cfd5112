// The Z3 proofs, one file each; main.cpp runs them.
#pragma once

#include "prove.hpp"

namespace vmemcheck::proofs {

void layout_proof(Prover& p);      // layout_proof.cpp
void request_proof(Prover& p);     // request_proof.cpp
void usable_proof(Prover& p);      // usable_proof.cpp
void index_proof(Prover& p);       // index_proof.cpp
void activation_proof(Prover& p);  // activation_proof.cpp
void budget_proof(Prover& p);      // budget_proof.cpp

}  // namespace vmemcheck::proofs
