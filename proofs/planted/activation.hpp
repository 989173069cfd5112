// Planted bug for proofs/activation_proof.cpp: the per-memslot mapping
// decision (device.cpp slot_wanted, PluggedBlocks) looks only at the first
// block of a memslot, so an UNPLUG of that block deactivates a memslot that
// still holds plugged blocks (invariant 1).
#pragma once

#include "z3_word.hpp"

namespace vmemcheck::planted {

// How many blocks of a memslot of `length` bytes the decision inspects.
template <class W>
W slot_blocks(W length, W /*block*/) {
  return literal(length, 1);  // BUG: device.cpp inspects length / block
}

}  // namespace vmemcheck::planted
