// Planted bugs for proofs/layout_proof.cpp: the automatic layout forgets to
// round the per-memslot share up to the block size (QEMU's align_up), so a
// memslot can end in the middle of a block and the limit can be exceeded; the
// count layout rounds its share down to the alignment, so it decides more
// memslots than asked for.
#pragma once

#include "z3_word.hpp"

namespace vmemcheck::planted {

template <class W>
decision::Layout<W> auto_layout(W region, W block, W limit, W min_slot) {
  using namespace decision;
  const W one = literal(region, 1);
  const W safe_limit = max_of(limit, one);
  const W wanted = max_of(udiv(region, safe_limit), max_of(block, min_slot));  // BUG: no align_up
  const W size = select(ule(limit, one) || ule(region, wanted), region, wanted);
  return {size, div_ceil(region, size)};
}

template <class W>
decision::Layout<W> count_layout(W region, W align, W count) {
  using namespace decision;
  const W one = literal(region, 1);
  const W share = div_ceil(region, max_of(count, one));
  const W wanted = max_of(udiv(share, align) * align, align);  // BUG: rounds down, not align_up
  const W size = select(ule(count, one) || ule(region, wanted), region, wanted);
  return {size, div_ceil(region, size)};
}

}  // namespace vmemcheck::planted
