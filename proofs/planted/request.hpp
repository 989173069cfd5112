// Planted bug for proofs/request_proof.cpp: the range check forgets that
// addr + size can wrap around 2^64 (the `addr <= end` test is missing).
#pragma once

#include "z3_word.hpp"

namespace vmemcheck::planted {

template <class W>
auto request_range_valid(W device_addr, W usable, W block, W gpa, W nb_blocks) {
  const W size = nb_blocks * block;
  const W end = gpa + size;
  return urem(gpa, block) == literal(gpa, 0) && size != literal(gpa, 0) &&  // BUG: no ule(gpa, end)
         ule(device_addr, gpa) && ule(end, device_addr + usable);
}

}  // namespace vmemcheck::planted
