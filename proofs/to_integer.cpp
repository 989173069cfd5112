#include "to_integer.hpp"

#include <algorithm>
#include <bit>
#include <stdexcept>

namespace vmemcheck::proofs {

namespace {

// 2^n in decimal (n up to a few hundred): a literal, not a power term, so the
// arithmetic stays polynomial.
std::string power_of_two(unsigned n) {
  std::string digits = "1";  // least significant first
  for (unsigned i = 0; i < n; ++i) {
    int carry = 0;
    for (char& d : digits) {
      const int twice = (d - '0') * 2 + carry;
      d = static_cast<char>('0' + twice % 10);
      carry = twice / 10;
    }
    if (carry) digits.push_back('1');
  }
  return {digits.rbegin(), digits.rend()};
}

}  // namespace

z3::expr ToInteger::modulus(unsigned width) { return ctx_.int_val(power_of_two(width).c_str()); }

// Bits of the exact (not wrapped) result of e's operation, from the bits of
// its operands; may exceed e's width.
unsigned ToInteger::exact_bits(const z3::expr& e) {
  switch (e.decl().decl_kind()) {
    case Z3_OP_BNUM: {
      uint64_t value = 0;
      if (Z3_get_numeral_uint64(ctx_, e, &value)) return static_cast<unsigned>(std::bit_width(value));
      break;
    }
    case Z3_OP_ZERO_EXT: return value_bits(e.arg(0));
    case Z3_OP_BADD: {  // n operands below 2^b sum to below n * 2^b <= 2^(b + bit_width(n-1))
      unsigned widest = 0;
      for (unsigned i = 0; i < e.num_args(); ++i) widest = std::max(widest, value_bits(e.arg(i)));
      return widest + static_cast<unsigned>(std::bit_width(e.num_args() - 1));
    }
    case Z3_OP_BMUL: {  // factors below 2^a and 2^b multiply to below 2^(a+b)
      unsigned bits = 0;
      for (unsigned i = 0; i < e.num_args(); ++i) bits += value_bits(e.arg(i));
      return bits;
    }
    default: break;
  }
  return e.get_sort().bv_size();
}

unsigned ToInteger::value_bits(const z3::expr& e) {
  if (const auto it = bits_.find(e.id()); it != bits_.end()) return it->second;
  const unsigned bits = std::min(exact_bits(e), e.get_sort().bv_size());
  bits_.emplace(e.id(), bits);
  return bits;
}

z3::expr ToInteger::operator()(const z3::expr& e) {
  if (const auto it = memo_.find(e.id()); it != memo_.end()) return it->second;
  z3::expr_vector args(ctx_);
  if (e.is_app()) {
    for (unsigned i = 0; i < e.num_args(); ++i) args.push_back((*this)(e.arg(i)));
  }
  const z3::expr out = translate(e, args);
  memo_.emplace(e.id(), out);
  return out;
}

z3::expr ToInteger::translate(const z3::expr& e, const z3::expr_vector& a) {
  if (!e.is_app()) throw std::runtime_error("to_integer: not an application: " + e.to_string());
  const unsigned width = e.is_bv() ? e.get_sort().bv_size() : 0;
  const auto wrap = [&](const z3::expr& x) {
    return exact_bits(e) <= width ? x : z3::mod(x, modulus(width));
  };
  switch (e.decl().decl_kind()) {
    case Z3_OP_TRUE:
    case Z3_OP_FALSE: return e;
    case Z3_OP_BNUM: return ctx_.int_val(e.get_decimal_string(0).c_str());
    case Z3_OP_UNINTERPRETED:
      if (e.num_args() == 0 && e.is_bv()) {
        const z3::expr x = ctx_.int_const(e.decl().name().str().c_str());
        ranges_.push_back(0 <= x && x < modulus(width));
        return x;
      }
      break;
    case Z3_OP_AND: return z3::mk_and(a);
    case Z3_OP_OR: return z3::mk_or(a);
    case Z3_OP_NOT: return !a[0];
    case Z3_OP_IMPLIES: return z3::implies(a[0], a[1]);
    case Z3_OP_ITE: return z3::ite(a[0], a[1], a[2]);
    case Z3_OP_EQ: return a[0] == a[1];
    case Z3_OP_DISTINCT:
      if (a.size() == 2) return a[0] != a[1];
      break;
    case Z3_OP_BADD: {
      z3::expr sum = a[0];
      for (unsigned i = 1; i < a.size(); ++i) sum = sum + a[i];
      return wrap(sum);
    }
    case Z3_OP_BSUB: return wrap(a[0] - a[1]);
    case Z3_OP_BNEG: return wrap(-a[0]);
    case Z3_OP_BMUL: {
      z3::expr product = a[0];
      for (unsigned i = 1; i < a.size(); ++i) product = product * a[i];
      return wrap(product);
    }
    case Z3_OP_BUDIV:
    case Z3_OP_BUDIV_I: return z3::ite(a[1] == 0, modulus(width) - 1, a[0] / a[1]);
    case Z3_OP_BUREM:
    case Z3_OP_BUREM_I: return z3::ite(a[1] == 0, a[0], z3::mod(a[0], a[1]));
    case Z3_OP_ULEQ: return a[0] <= a[1];
    case Z3_OP_ULT: return a[0] < a[1];
    case Z3_OP_UGEQ: return a[0] >= a[1];
    case Z3_OP_UGT: return a[0] > a[1];
    case Z3_OP_ZERO_EXT: return a[0];
    case Z3_OP_EXTRACT: {
      const unsigned high = e.hi(), low = e.lo();
      return z3::mod(a[0] / modulus(low), modulus(high - low + 1));
    }
    default: break;
  }
  throw std::runtime_error("to_integer: no exact translation of " + e.decl().name().str());
}

}  // namespace vmemcheck::proofs
