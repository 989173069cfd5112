// The Z3 instantiation of the decision templates (core/decision/decision.hpp).
//
// core/decision/word.hpp gives the templates seven operations on uint64_t and
// bool. Here the same seven exist for 64-bit Z3 bit-vectors and Z3 Booleans, so
// `decision::auto_layout<z3::expr>` builds the formula of exactly the code the
// device runs:
//   ult, ule, udiv, urem    z3's own unsigned bit-vector functions (z3::ult, ...),
//                           found by argument-dependent lookup in namespace z3;
//   select, literal, boolean  declared below, also in namespace z3 so that the
//                           same lookup finds them wherever decision.hpp was
//                           included first (ordinary lookup would depend on
//                           include order).
// Bit-vector +, -, * wrap modulo 2^64 like uint64_t; == and != compare bits.
#pragma once

#include <z3++.h>

#include <cstdint>

namespace z3 {

// word.hpp: select(condition, if_true, if_false).
inline expr select(const expr& condition, const expr& if_true, const expr& if_false) {
  return ite(condition, if_true, if_false);
}

// word.hpp: a constant of the same sort and context as `like`.
inline expr literal(const expr& like, uint64_t value) {
  return like.ctx().bv_val(value, like.get_sort().bv_size());
}

// word.hpp: a truth value of the same context as `like`.
inline expr boolean(const expr& like, bool value) { return like.ctx().bool_val(value); }

}  // namespace z3

#include "decision.hpp"
#include "steps.hpp"

namespace vmemcheck::proofs {

// Every proof speaks about the width the device computes in.
inline constexpr unsigned kWordBits = 64;

}  // namespace vmemcheck::proofs
