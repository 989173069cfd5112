// Planted bug for proofs/index_proof.cpp: the touched index range ends at
// floor((offset + length) / size), so a block range that ends inside a
// memslot misses that memslot (off by one at the upper end).
#pragma once

#include "z3_word.hpp"

namespace vmemcheck::planted {

template <class W>
decision::IndexRange<W> touched_slots(W slot_size, W offset, W length) {
  return {udiv(offset, slot_size), udiv(offset + length, slot_size)};  // BUG: not div_ceil
}

}  // namespace vmemcheck::planted
