// Planted bug for proofs/budget_proof.cpp: the headroom under the soft limit
// forgets the memslots already promised (soft_limit instead of
// soft_limit - required), so devices added one after another exceed it.
#pragma once

#include "z3_word.hpp"

namespace vmemcheck::planted {

template <class W>
W auto_memslot_limit(W max_slots, W free_slots, W required, W used, W space, W used_region,
                     W device_size, W soft_limit, W safe_max) {
  using namespace decision;
  const W one = literal(max_slots, 1);
  const W reserved = required - used;
  const auto starved = ult(max_slots, safe_max) || ult(free_slots, reserved);  // BUG: no soft-limit test
  const W spare = select(ult(free_slots, reserved), literal(max_slots, 0), free_slots - reserved);
  const W n = min_of(soft_limit, spare);  // BUG: soft_limit, not soft_limit - required
  const W free_space = space - used_region;
  const W share = select(ule(free_space, device_size), n,
                         max_of(udiv(n * device_size, max_of(free_space, one)), one));
  return select(starved || ult(n, one), one, share);
}

}  // namespace vmemcheck::planted
