// The one helper every proof goes through (STYLE.md, Z3's examples): assert the
// preconditions and the negation of the claim; `unsat` means proven, `sat` is a
// counterexample (printed, and written as a scenario when the proof can), and
// `unknown` (or the time limit) is a failure like a counterexample. Claims are
// built as 64-bit bit-vector formulas from the templates and decided in their
// exact integer translation (to_integer.hpp says why).
#pragma once

#include <fmt/format.h>
#include <z3++.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "to_integer.hpp"
#include "z3_word.hpp"

namespace vmemcheck::proofs {

struct Options {
  std::string scenario_dir = ".";  // where counterexample scenarios are written
  // A mutant run (proofs/mutants/) only asks whether the proof finds the
  // change: after the first refuted claim the others are skipped.
  bool stop_after_refutation = false;
};

// A model of the negated claim: the value of any bit-vector term in it.
class Counterexample {
 public:
  Counterexample(const z3::model& model, ToInteger& to_integer, bool integer)
      : model_(model), to_integer_(to_integer), integer_(integer) {}
  uint64_t operator()(const z3::expr& bit_vector_term) const;

 private:
  const z3::model& model_;
  ToInteger& to_integer_;
  bool integer_;
};

// Turns a counterexample into the text of a scenario file (core/scenario/scenario.hpp),
// or nullopt when this model's violation cannot be expressed as one.
using ScenarioWriter = std::function<std::optional<std::string>(const Counterexample&)>;

// How a claim is decided: bit-blasted (best where the claim is mostly equal
// terms and comparisons), or in the exact integer translation (best where it
// relates products and quotients).
enum class Method { BitVector, Integer };

struct Claim {
  std::string name;         // "layout.auto", printed first on its line
  z3::expr preconditions;   // what the code may assume (config validation, ...)
  z3::expr conclusion;      // what must then hold
  // Extra constraints tried first on a counterexample so that it is small
  // enough to run as a scenario (sizes a test machine can back); dropped when
  // no counterexample satisfies them.
  std::optional<z3::expr> small;
  ScenarioWriter scenario;
  // The values printed for a counterexample, by name.
  std::vector<std::pair<std::string, z3::expr>> shown;
  Method method = Method::Integer;
};

class Prover {
 public:
  explicit Prover(Options options) : options_(std::move(options)) {}
  z3::context& ctx() { return ctx_; }
  const Options& options() const { return options_; }

  // Proves one claim and prints "NAME: proven (T s)" or the counterexample.
  // Returns true when proven.
  bool prove(const Claim& claim);
  // Proves a claim and returns it as a premise for later claims:
  // preconditions => conclusion, true for every value of its variables once
  // proven (a failure is counted like any refuted claim), so a later claim may
  // assume it, also for other terms (instantiate()).
  z3::expr lemma(const Claim& claim);

  // What the claims printed: a line per claim, counterexamples below theirs.
  // Kept, not printed, so that proofs can run side by side and print in order.
  const std::string& report() const { return report_; }
  double total_seconds() const { return total_seconds_; }
  int proven() const { return proven_; }
  int refuted() const { return refuted_; }  // counterexample or unknown

  // A 64-bit variable, and a 64-bit constant, of this prover's context.
  z3::expr word(const std::string& name) { return ctx_.bv_const(name.c_str(), kWordBits); }
  z3::expr word(uint64_t value) { return ctx_.bv_val(value, kWordBits); }

 private:
  template <class... Args>
  void say(fmt::format_string<Args...> format, Args&&... args) {
    report_ += fmt::format(format, std::forward<Args>(args)...);
  }

  Options options_;
  z3::context ctx_;
  std::string report_;
  double total_seconds_ = 0;
  int proven_ = 0;
  int refuted_ = 0;
};

// Lemmas proven one after another under the same preconditions, for a claim
// no method decides in one step. Each lemma assumes the preconditions,
// conclusions of earlier lemmas of the chain and instances of Prover::lemma
// results (true for all values); those hold whenever the preconditions do,
// so its conclusion does too, and later lemmas and claims with the same
// preconditions may assume it.
class LemmaChain {
 public:
  LemmaChain(Prover& p, std::string prefix, z3::expr preconditions,
             std::vector<std::pair<std::string, z3::expr>> shown)
      : p_(p), prefix_(std::move(prefix)), preconditions_(std::move(preconditions)), shown_(std::move(shown)) {}
  // Proves "prefix.name" and returns its conclusion.
  z3::expr operator()(const std::string& name, const z3::expr& conclusion);
  z3::expr operator()(const std::string& name, const z3::expr& assumed, const z3::expr& conclusion);

 private:
  Prover& p_;
  std::string prefix_;
  z3::expr preconditions_;
  std::vector<std::pair<std::string, z3::expr>> shown_;
};

// Spec vocabulary shared by the proofs; each is the textbook definition.
// x is 2^k for some k < 64: x & (x - 1) == 0 for bit-blasting, a disjunction
// of the 64 powers for the integer translation (which has no bitwise and).
z3::expr is_power_of_two(const z3::expr& x, Method method = Method::Integer);
z3::expr is_multiple(const z3::expr& x, const z3::expr& of);
// A lemma (Prover::lemma) with some of its variables replaced by terms: true
// for every value of them too.
z3::expr instantiate(z3::expr lemma, const std::vector<std::pair<z3::expr, z3::expr>>& variable_terms);
// x widened to 128 bits, where the sums and products of the specs cannot wrap.
z3::expr wide(const z3::expr& x);
z3::expr wide(z3::context& ctx, uint64_t value);

}  // namespace vmemcheck::proofs
