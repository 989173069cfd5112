#include "prove.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "units.hpp"

namespace vmemcheck::proofs {
namespace {

// A claim that takes longer is a failure (reported as unknown), not a hang.
constexpr unsigned kClaimTimeoutMs = 60'000;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

uint64_t Counterexample::operator()(const z3::expr& bit_vector_term) const {
  const z3::expr term = integer_ ? to_integer_(bit_vector_term) : bit_vector_term;
  return std::stoull(model_.eval(term, true).get_decimal_string(0));
}

z3::expr is_power_of_two(const z3::expr& x, Method method) {
  if (method == Method::BitVector) {
    return x != z3::literal(x, 0) && (x & (x - z3::literal(x, 1))) == z3::literal(x, 0);
  }
  z3::expr_vector powers(x.ctx());
  for (unsigned k = 0; k < x.get_sort().bv_size(); ++k) powers.push_back(x == z3::literal(x, uint64_t{1} << k));
  return z3::mk_or(powers);
}

z3::expr is_multiple(const z3::expr& x, const z3::expr& of) {
  return z3::urem(x, of) == z3::literal(x, 0);
}

z3::expr instantiate(z3::expr lemma, const std::vector<std::pair<z3::expr, z3::expr>>& variable_terms) {
  z3::expr_vector variables(lemma.ctx()), terms(lemma.ctx());
  for (const auto& [variable, term] : variable_terms) {
    variables.push_back(variable);
    terms.push_back(term);
  }
  return lemma.substitute(variables, terms);
}

z3::expr wide(const z3::expr& x) { return z3::zext(x, 128 - x.get_sort().bv_size()); }
z3::expr wide(z3::context& ctx, uint64_t value) { return ctx.bv_val(value, 128); }

bool Prover::prove(const Claim& claim) {
  if (options_.stop_after_refutation && refuted_ > 0) {
    say("{}: skipped (a claim before it was refuted)\n", claim.name);
    return false;
  }
  const auto start = std::chrono::steady_clock::now();
  z3::solver solver(ctx_);
  z3::params limits(ctx_);
  const char* override_ms = std::getenv("VMEMCHECK_PROOF_TIMEOUT_MS");
  limits.set("timeout", override_ms ? static_cast<unsigned>(std::stoul(override_ms)) : kClaimTimeoutMs);
  solver.set(limits);
  ToInteger to_integer(ctx_);
  const bool integer = claim.method == Method::Integer;
  const auto decided = [&](const z3::expr& e) { return integer ? to_integer(e) : e; };
  solver.add(decided(claim.preconditions && !claim.conclusion));
  if (integer) solver.add(to_integer.ranges());
  z3::check_result result = solver.check();
  if (result == z3::sat && claim.small) {
    solver.push();
    solver.add(decided(*claim.small));
    if (integer) solver.add(to_integer.ranges());
    if (solver.check() != z3::sat) {
      solver.pop();
      result = solver.check();
    }
  }
  const double seconds = seconds_since(start);
  total_seconds_ += seconds;
  if (result == z3::unsat) {
    ++proven_;
    say("{}: proven ({:.2f} s)\n", claim.name, seconds);
    return true;
  }
  ++refuted_;
  if (result == z3::unknown) {
    say("{}: UNKNOWN ({}) ({:.2f} s)\n", claim.name, solver.reason_unknown(), seconds);
    return false;
  }
  const z3::model model = solver.get_model();
  const Counterexample value(model, to_integer, integer);
  say("{}: COUNTEREXAMPLE ({:.2f} s)\n", claim.name, seconds);
  for (const auto& [name, e] : claim.shown) {
    const uint64_t v = value(e);
    say("  {} = {:#x} ({})\n", name, v, format_size(v));
  }
  if (claim.scenario) {
    if (const auto text = claim.scenario(value)) {
      const std::string path = fmt::format("{}/{}.vmem", options_.scenario_dir, claim.name);
      std::ofstream(path) << *text;
      say("  scenario: {}\n", path);
    } else {
      say("  (this counterexample is not expressible as a scenario)\n");
    }
  }
  return false;
}

z3::expr Prover::lemma(const Claim& claim) {
  prove(claim);
  return z3::implies(claim.preconditions, claim.conclusion);
}

z3::expr LemmaChain::operator()(const std::string& name, const z3::expr& conclusion) {
  return (*this)(name, preconditions_.ctx().bool_val(true), conclusion);
}

z3::expr LemmaChain::operator()(const std::string& name, const z3::expr& assumed, const z3::expr& conclusion) {
  p_.lemma({prefix_ + "." + name, preconditions_ && assumed, conclusion, std::nullopt, {}, shown_});
  return conclusion;
}

}  // namespace vmemcheck::proofs
