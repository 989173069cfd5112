// Proof 5: the usable region (DESIGN §6 "Usable region") keeps
// every plugged block inside it, and is what DESIGN §6 says it is.
//
// For every region, block and requested size device configuration accepts,
// and the usable extent of each architecture (256 MiB x86-64 and s390x,
// 1 GiB arm64), decision::usable_region_size (device.cpp usable_for):
//   - is align_up(min(region, requested + extent), block), 0 for requested 0;
//   - lies between requested and region (invariant 4's bound);
//   - is block aligned (invariant 4);
//   - growth (a host resize: steps.hpp usable_after_resize, max(usable,
//     usable_for(new requested)), the line device.cpp runs)
//     keeps every block plugged below the old usable region inside the new one.
// Shrinking happens only on realize, UNPLUG_ALL and reset, after the bitmap
// was cleared (device.cpp unplug_all): no plugged block can fall outside.
#include <fmt/format.h>

#include "device_config.hpp"
#include "proofs.hpp"
#include "units.hpp"

namespace vmemcheck::proofs {

void usable_proof(Prover& p) {
  const z3::expr region = p.word("region"), block = p.word("block"), requested = p.word("requested"),
                 new_requested = p.word("new requested"), old_usable = p.word("old usable"),
                 plugged = p.word("plugged block offset"), extent = p.word("extent");
  const auto usable_for = [&](const z3::expr& r) {
    return decision::usable_region_size(region, block, r, extent);
  };
  const z3::expr usable = usable_for(requested);
  const auto valid_size = [&](const z3::expr& r) { return z3::ule(r, region) && is_multiple(r, block); };
  const auto device_with = [&](Method method) {
    return is_power_of_two(block, method) && z3::uge(block, p.word(MiB)) && region != p.word(0) &&
      is_multiple(region, block) && z3::ule(region, p.word(kMaxGuestPhysical)) &&
      z3::ule(requested, region) && is_multiple(requested, block) &&
      (extent == p.word(usable_extent(Arch::X86_64)) || extent == p.word(usable_extent(Arch::Arm64)));
  };
  const z3::expr device = device_with(Method::Integer);
  const std::vector<std::pair<std::string, z3::expr>> shown = {
      {"region", region}, {"block", block}, {"requested", requested}, {"extent", extent},
      {"usable", usable}};
  const z3::expr small = z3::ule(region, p.word(64 * GiB)) && extent == p.word(usable_extent(Arch::X86_64));
  const auto scenario = [=](const Counterexample& value) -> std::optional<std::string> {
    if (value(extent) != usable_extent(Arch::X86_64)) return std::nullopt;
    return fmt::format(
        "# Counterexample of proof usable: the usable region the proven code\n"
        "# computes breaks DESIGN §6 / invariant 4; the run fails on it or on the\n"
        "# expected value.\n"
        "machine base=0x140000000 size={}\n"
        "device vmem0 size={} block={} requested={} => ok addr=0x140000000\n"
        "expect vmem0 usable={}\n",
        format_size(value(region)), format_size(value(region)), format_size(value(block)),
        format_size(value(requested)), format_size(value(usable)));
  };

  // DESIGN §6's formula, in 128 bits where requested + extent cannot wrap.
  const z3::expr one = wide(p.ctx(), 1);
  const z3::expr capped_wide = z3::ite(z3::ult(wide(region), wide(requested) + wide(extent)), wide(region),
                                       wide(requested) + wide(extent));
  const z3::expr formula = z3::ite(requested == p.word(0), wide(p.ctx(), 0),
                                   z3::udiv(capped_wide + wide(block) - one, wide(block)) * wide(block));
  p.prove({"usable.formula", device, wide(usable) == formula, small, scenario, shown});
  // requested <= usable <= region (invariant 4's bound; DESIGN §6: the
  // requested size is always usable). Neither method decides it in one
  // claim within a minute; a chain over the code's own terms
  // (usable_region_size: capped, then align_up) decides it.
  const z3::expr capped = z3::ite(z3::ule(region - requested, extent), region, requested + extent);
  const z3::expr aligned = decision::align_up(capped, block);
  const z3::expr up = z3::udiv(capped + block - p.word(1), block);  // aligned == up * block
  const z3::expr blocks = z3::udiv(region, block);
  LemmaChain lemma(p, "usable.bounds", device, shown);
  const z3::expr capped_bounds = lemma("capped", z3::ule(requested, capped) && z3::ule(capped, region));
  const z3::expr rounds_up = lemma("rounds-up", z3::uge(aligned, capped));
  const z3::expr whole_blocks = lemma("blocks", region == blocks * block);
  const z3::expr floor = lemma("floor", z3::ult(wide(up) * wide(block), wide(capped) + wide(block)));
  const z3::expr up_within = lemma("up-within", floor && capped_bounds && whole_blocks, z3::ule(up, blocks));
  const z3::expr within = lemma("within", up_within && whole_blocks, z3::ule(aligned, region));
  p.prove({"usable.bounds", device && capped_bounds && rounds_up && within,
           z3::ule(usable, region) && z3::uge(usable, requested), small, scenario, shown});
  p.prove({"usable.aligned", device_with(Method::BitVector), is_multiple(usable, block), small,
           scenario, shown, Method::BitVector});

  // A host resize to new_requested (steps.hpp usable_after_resize, the line
  // device.cpp runs) with blocks plugged below the old usable region
  // (invariant 4 before the step): they stay inside, and the new usable
  // region is the old one or usable_for(new_requested), so invariant 4 holds
  // after the step too (usable.bounds).
  const z3::expr grown = decision::usable_after_resize(old_usable, region, block, new_requested, extent);
  p.prove({"usable.growth",
           device && valid_size(old_usable) && z3::ule(new_requested, region) &&
               is_multiple(new_requested, block) && is_multiple(plugged, block) &&
               z3::ult(plugged, old_usable),
           z3::ult(plugged, grown) && (grown == old_usable || grown == usable_for(new_requested)),
           std::nullopt, {},
           {{"region", region}, {"old usable", old_usable}, {"new requested", new_requested},
            {"plugged", plugged}, {"grown", grown}}});
}

}  // namespace vmemcheck::proofs
