// The operations the decision templates (decision.hpp, steps.hpp) use on their
// word type and truth type.
//
// Every decision of the device that can be proven is written once, over a word
// type W, and instantiated twice: with uint64_t here to run, and with a Z3
// bit-vector wrapper (proofs/) to prove. The templates therefore never use the
// built-in '<', '/' or '%' (signed or partial on Z3 bit-vectors) and never
// branch on a W-dependent condition: they call these functions, which the
// proof wrapper overloads with the unsigned bit-vector operations.
#pragma once

#include <cstdint>

namespace vmemcheck {

using Word = uint64_t;

inline bool ult(Word a, Word b) { return a < b; }
inline bool ule(Word a, Word b) { return a <= b; }
inline Word udiv(Word a, Word b) { return a / b; }
inline Word urem(Word a, Word b) { return a % b; }
inline Word select(bool condition, Word if_true, Word if_false) {
  return condition ? if_true : if_false;
}
inline bool select(bool condition, bool if_true, bool if_false) { return condition ? if_true : if_false; }
// A constant of the same kind (and, for Z3, the same context) as `like`.
inline Word literal(Word /*like*/, uint64_t value) { return value; }
// A truth value of the same kind as `like` (steps.hpp's truth type).
inline bool boolean(bool /*like*/, bool value) { return value; }

}  // namespace vmemcheck
