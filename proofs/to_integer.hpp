// Exact translation of a 64-bit bit-vector formula into integer arithmetic.
//
// Z3 decides bit-vector formulas by bit-blasting them to SAT, and SAT cannot
// relate a 64-bit divider to a 64-bit multiplier (x/b*b <= x, "ceil(a/b)*b >= a"
// stay `unknown` after minutes). Z3's nonlinear integer arithmetic decides the
// same facts in milliseconds. So every formula the templates build is
// translated operator by operator into integers with the exact semantics of
// the bit-vector operation (SMT-LIB QF_BV): + - * wrap modulo 2^width, udiv
// by 0 is all ones, urem by 0 is the dividend, comparisons are unsigned. Each
// bit-vector variable becomes an integer variable in [0, 2^width). An
// operation without a translation throws: nothing is approximated.
// A sum or product whose operands are known to be too narrow to reach
// 2^width (the specs' 128-bit `wide` arithmetic on 64-bit values) is
// translated without the modulo: it cannot wrap, and every modulo is an extra
// division the nonlinear solver has to reason about.
#pragma once

#include <z3++.h>

#include <map>
#include <string>

namespace vmemcheck::proofs {

class ToInteger {
 public:
  explicit ToInteger(z3::context& ctx) : ctx_(ctx), ranges_(ctx) {}
  // The integer (or Boolean) counterpart of a bit-vector term (or formula).
  z3::expr operator()(const z3::expr& e);
  // 0 <= x < 2^width for every variable translated so far.
  const z3::expr_vector& ranges() const { return ranges_; }

 private:
  z3::expr translate(const z3::expr& e, const z3::expr_vector& args);
  z3::expr modulus(unsigned width);
  // Upper bounds on the significant bits of a bit-vector term: of its
  // operation's exact result, and of its value (the result modulo 2^width).
  unsigned exact_bits(const z3::expr& e);
  unsigned value_bits(const z3::expr& e);

  z3::context& ctx_;
  z3::expr_vector ranges_;
  std::map<unsigned, z3::expr> memo_;  // by the bit-vector term's id
  std::map<unsigned, unsigned> bits_;   // value_bits, by the term's id
};

}  // namespace vmemcheck::proofs
