// Proof 6: automatic memslot decisions never exceed the machine's
// budget (DESIGN §6 "Memory-device core", machine.cpp auto_memslot_limit and
// memslot_limit_for).
//
//   budget.step  For EVERY machine state (all 64-bit max, free, required,
//                used <= required, device-memory space, used region, device
//                size < 2^52 fitting the free space), the limit L of
//                decision::auto_memslot_limit is >= 1, and when L > 1:
//                max >= 509 (vhost-safe), required + L <= 256 (soft limit) and
//                L + reserved <= free (so machine.cpp's add check passes).
//                A claim about any state holds whatever the order in which
//                devices were added.
//   budget.step.exact  For the same states, the limit equals DESIGN §6's rule
//                written out rule by rule: neither too large nor too small
//                (budget.step.fits: its one product cannot wrap).
//   budget.sequence  kDevices automatic devices added one after another, with
//                any devices of other policies (any memslot counts) and any
//                plugging in between: the memslots of the automatic devices
//                that decided on more than one sum to at most 256. Premise:
//                each device's memslot count <= its limit (invariant 5;
//                layout.auto.count where proven). Bounded: kDevices. The
//                decisions enter through budget.step's conclusion (a lemma).
#include <fmt/format.h>

#include "device_config.hpp"
#include "machine.hpp"
#include "memslot_policy.hpp"
#include "proofs.hpp"
#include "units.hpp"

namespace vmemcheck::proofs {
namespace {

constexpr unsigned kDevices = 3;

struct Machine {
  z3::expr max, free, required, used, space, used_region;
};

}  // namespace

void budget_proof(Prover& p) {
  const z3::expr soft = p.word(kMemslotSoftLimit), safe = p.word(kMemslotSafeMax), one = p.word(1);
  const auto limit_for = [&](const Machine& m, const z3::expr& size) {
    return decision::auto_memslot_limit(m.max, m.free, m.required, m.used, m.space, m.used_region, size, soft,
                                        safe);
  };
  // auto_memslot_limit's preconditions (machine.cpp: used <= required, the
  // device fits the free device-memory space, sizes below 2^52).
  const auto state = [&](const Machine& m, const z3::expr& size) {
    return z3::ule(m.used, m.required) && z3::ule(m.used_region, m.space) &&
           z3::ule(m.space, p.word(kMaxGuestPhysical)) && size != p.word(0) &&
           z3::ule(size, m.space - m.used_region);
  };
  const auto machine = [&](const std::string& k) {
    return Machine{p.word("max" + k), p.word("free" + k), p.word("required" + k),
                   p.word("used" + k), p.word("space" + k), p.word("used region" + k)};
  };

  {
    const Machine m = machine("");
    const z3::expr size = p.word("device size");
    const z3::expr limit = limit_for(m, size);
    const z3::expr reserved = m.required - m.used;
    // Small: the second device of a fresh default machine (32764 KVM memslots,
    // 8 reserved, nothing plugged), after a fixed-layout device of `required`.
    const z3::expr small = m.max == p.word(32764) && m.free == p.word(32756) && m.used == p.word(0) &&
                           z3::ule(m.required, p.word(64)) && is_multiple(m.space, p.word(GiB)) &&
                           z3::ule(m.space, p.word(4 * TiB)) && is_multiple(size, p.word(GiB)) &&
                           m.used_region == m.required * p.word(GiB);
    const auto scenario = [=](const Counterexample& v) -> std::optional<std::string> {
      if (v(m.max) != 32764 || v(m.free) != 32756 || v(m.used) != 0 || v(m.required) == 0 ||
          v(m.used_region) != v(m.required) * GiB || v(size) % GiB != 0) {
        return std::nullopt;
      }
      const auto l = decision::auto_layout<Word>(v(size), 2 * MiB, v(limit), kMinAutoMemslotSize);
      return fmt::format(
          "# Counterexample of proof budget.step: the automatic decision breaks the\n"
          "# soft limit or the free memslots. The expected layout is the proven code's;\n"
          "# the run fails on it or on invariant 5.\n"
          "machine base=0x140000000 size={}\n"
          "device other size={} mode=fixed slot-size=1G => ok addr=0x140000000 memslots={}\n"
          "device vmem0 size={} block=2M mode=dynamic => ok addr={:#x} memslots={} slot-size={}\n",
          format_size(v(m.space)), format_size(v(m.used_region)), v(m.required), format_size(v(size)),
          0x140000000 + v(m.used_region), l.count, format_size(l.slot_size));
    };
    p.prove({"budget.step", state(m, size),
             z3::uge(limit, one) &&
                 z3::implies(z3::ugt(limit, one), z3::uge(m.max, safe) &&
                                                      z3::ule(wide(m.required) + wide(limit), wide(soft)) &&
                                                      z3::ule(wide(limit) + wide(reserved), wide(m.free))),
             small, scenario,
             {{"max", m.max}, {"free", m.free}, {"required", m.required}, {"used", m.used},
              {"space", m.space}, {"used region", m.used_region}, {"device size", size}, {"limit", limit}}});

    // DESIGN §6 "Memory-device core", rule by rule: the limit is exactly
    // this, so neither too large nor too small. Where a rule computes, its
    // operands are in range (required < 256, reserved <= free, the device
    // smaller than the free space), so 64-bit arithmetic is exact there;
    // budget.step.fits proves it for the one product.
    const z3::expr starved = z3::ult(m.max, safe) || z3::uge(m.required, soft) || z3::ult(m.free, reserved);
    const z3::expr headroom = soft - m.required, spare = m.free - reserved;
    const z3::expr n = z3::ite(z3::ult(headroom, spare), headroom, spare);
    const z3::expr free_space = m.space - m.used_region;
    const z3::expr spans_free_space = z3::uge(size, free_space);
    const z3::expr share = z3::udiv(n * size, free_space);
    const z3::expr specified =
        z3::ite(starved || z3::ult(n, one), one, z3::ite(spans_free_space, n, z3::ite(z3::ult(share, one), one, share)));
    p.prove({"budget.step.fits", state(m, size) && !starved && !spans_free_space,
             z3::ule(wide(n) * wide(size), wide(p.ctx(), UINT64_MAX)), std::nullopt, {},
             {{"n", n}, {"device size", size}}});
    p.prove({"budget.step.exact", state(m, size), limit == specified, small, scenario,
             {{"max", m.max}, {"free", m.free}, {"required", m.required}, {"used", m.used},
              {"space", m.space}, {"used region", m.used_region}, {"device size", size}, {"limit", limit}}});
  }

  // A sequence: before device k, `required` has grown by every earlier
  // device's count and by any other devices' (others_k); used, free, max and
  // the used region are whatever the machine has then.
  z3::expr pre = p.ctx().bool_val(true);
  z3::expr multi_sum = wide(p.ctx(), 0);
  z3::expr required = p.word("required0");
  std::vector<std::pair<std::string, z3::expr>> shown;
  for (unsigned k = 0; k < kDevices; ++k) {
    const std::string tag = fmt::format("{}", k);
    const Machine m = machine(tag);
    const z3::expr count = p.word("count" + tag), others = p.word("others" + tag);
    pre = pre && m.required == required;
    // The decision, through budget.step (proven above) as a lemma: the solver
    // sees only what budget.step concluded about it.
    const z3::expr limit = p.word("limit" + tag);
    pre = pre && z3::uge(limit, one) &&
          z3::implies(z3::ugt(limit, one), z3::ule(wide(m.required) + wide(limit), wide(soft)));
    pre = pre && z3::uge(count, one) && z3::ule(count, limit);  // invariant 5: count <= limit
    multi_sum = multi_sum + z3::ite(z3::ugt(count, one), wide(count), wide(p.ctx(), 0));
    // required never wraps: the machine holds fewer than 2^32 memslots.
    pre = pre && z3::ule(wide(required) + wide(count) + wide(others), wide(p.ctx(), 0xffffffff));
    required = m.required + count + others;
    shown.push_back({"count" + tag, count});
    shown.push_back({"required" + tag, m.required});
  }
  p.prove({"budget.sequence", pre, z3::ule(multi_sum, wide(soft)), std::nullopt, {}, shown});
}

}  // namespace vmemcheck::proofs
