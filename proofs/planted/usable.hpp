// Planted bug for proofs/usable_proof.cpp: the usable region is rounded down
// to the block size instead of up, so it can end below requested_size.
#pragma once

#include "z3_word.hpp"

namespace vmemcheck::planted {

template <class W>
W usable_region_size(W region, W block, W requested, W extent) {
  const W capped = select(ule(region - requested, extent), region, requested + extent);
  return select(requested == literal(requested, 0), literal(requested, 0),
                udiv(capped, block) * block - block);  // BUG: rounds down, then one block less
}

}  // namespace vmemcheck::planted
