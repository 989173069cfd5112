// Proof 1: the memslot layouts satisfy DESIGN §3 invariant 5, and the
// automatic layout is the seeds' rule (DESIGN §6 "Memslot layout").
//
// For every region size, block size and page size that device configuration
// accepts (device_config.cpp validate()):
//   - fixed layout (Firecracker; every layout ends in its arithmetic): count
//     memslots tile the region, (count-1)*size < region <= count*size, and
//     no more than n memslots when n of them cover the region;
//   - automatic layout (v2, v4), every 64-bit limit: it is the seeds' formula,
//     the fixed layout of a non-zero multiple of the block (so of the page),
//     and with more than one memslot, size >= max(block, 1 GiB);
//   - automatic layout, the limits the machine hands out (1..256): count <= limit;
//   - count layout (v1), memslots= 1..1024: the fixed layout of a non-zero
//     multiple of the block, and count <= memslots.
#include <fmt/format.h>

#include "device_config.hpp"
#include "machine.hpp"
#include "memslot_policy.hpp"
#include "proofs.hpp"
#include "units.hpp"

namespace vmemcheck::proofs {
namespace {

// DESIGN §3 invariant 5 for one device: count memslots of `size` tile the region.
z3::expr tiles(const z3::expr& region, const z3::expr& block, const decision::Layout<z3::expr>& l) {
  return l.slot_size != literal(region, 0) && is_multiple(l.slot_size, block) &&
         ule(literal(region, 1), l.count) &&
         z3::ult(wide(l.count - literal(region, 1)) * wide(l.slot_size), wide(region)) &&
         z3::ule(wide(region), wide(l.count) * wide(l.slot_size));
}

// What device configuration accepts (validate()): the preconditions of every layout.
z3::expr valid_geometry(Prover& p, const z3::expr& region, const z3::expr& block, const z3::expr& page,
                        Method method = Method::Integer) {
  return is_power_of_two(page, method) && is_power_of_two(block, method) && z3::uge(block, p.word(MiB)) &&
         z3::uge(block, page) && region != p.word(0) && is_multiple(region, block) &&
         z3::ule(region, p.word(kMaxGuestPhysical));
}

// The automatic layout's counterexample as a scenario, for limits 1..256.
std::optional<std::string> auto_scenario(const Counterexample& value, const z3::expr& region,
                                         const z3::expr& block, const z3::expr& limit,
                                         const decision::Layout<z3::expr>& l) {
  const uint64_t limit_value = value(limit), block_value = value(block);
  if (limit_value == 0 || limit_value > kMemslotSoftLimit) return std::nullopt;
  // The device-memory area starts after 4 GiB of boot RAM, aligned to the block.
  const uint64_t base = decision::align_up<Word>(0x140000000, block_value);
  // A device spanning the free device-memory area of a fresh machine gets
  // limit 256 - (memslots promised to other devices) (DESIGN §6): a fixed
  // layout of one-block memslots before it promises 256 - limit.
  const uint64_t promised = kMemslotSoftLimit - limit_value;
  const uint64_t other_size = promised * block_value;
  std::string text = fmt::format(
      "# Counterexample of proof layout.auto: the decided layout breaks invariant 5\n"
      "# or differs from the seeds' rule. The expected outcome is what the proven\n"
      "# code decided; the run fails on the invariant or on that outcome.\n"
      "machine base={:#x} size={}\n",
      base, format_size(other_size + value(region)));
  if (promised != 0) {
    text += fmt::format("device other size={} block={} mode=fixed slot-size={} => ok addr={:#x} memslots={} "
                        "slot-size={}\n",
                        format_size(other_size), format_size(block_value), format_size(block_value), base,
                        promised, format_size(block_value));
  }
  return text + fmt::format("device vmem0 size={} block={} mode=dynamic => ok addr={:#x} memslots={} "
                            "slot-size={}\n",
                            format_size(value(region)), format_size(block_value), base + other_size,
                            value(l.count), format_size(value(l.slot_size)));
}

// Every layout ends in fixed_layout's arithmetic (a slot size, clamped to the
// region, and count = div_ceil(region, size)); it tiles the region for every
// non-zero slot size that is a multiple of the block. The automatic and count
// layouts are then proven to be fixed layouts of such a slot size.
void fixed_layout_claim(Prover& p) {
  const z3::expr region = p.word("region"), block = p.word("block"), page = p.word("page"),
                 slot = p.word("slot-size");
  const auto l = decision::fixed_layout(region, slot);
  p.prove({"layout.fixed.tiles",
           valid_geometry(p, region, block, page) && slot != p.word(0) && is_multiple(slot, block),
           tiles(region, block, l) && z3::implies(z3::ugt(l.count, p.word(1)), l.slot_size == slot),
           std::nullopt,
           {},
           {{"region", region}, {"block", block}, {"slot size", l.slot_size}, {"count", l.count}}});
}

// The step from a slot size to a memslot count: no more than n memslots
// whenever n of them cover the region, for every n a layout is given (the
// automatic layout's limit <= 256, the count layout's memslots= <= 1024).
// Returned as a lemma over the variables slot-size and n (and region, block,
// page).
z3::expr fixed_count_lemma(Prover& p) {
  static_assert(kMemslotSoftLimit <= kMaxUserMemslots);
  const z3::expr region = p.word("region"), block = p.word("block"), page = p.word("page"),
                 slot = p.word("slot-size"), n = p.word("n");
  const auto l = decision::fixed_layout(region, slot);
  return p.lemma({"layout.fixed.count",
                  valid_geometry(p, region, block, page) && slot != p.word(0) &&
                      z3::ule(n, p.word(kMaxUserMemslots)) &&
                      z3::uge(wide(n) * wide(slot), wide(region)),
                  z3::ule(l.count, n),
                  std::nullopt,
                  {},
                  {{"region", region}, {"slot size", l.slot_size}, {"n", n}, {"count", l.count}}});
}

void auto_layout_claim(Prover& p) {
  const z3::expr region = p.word("region"), block = p.word("block"), page = p.word("page"),
                 limit = p.word("limit");
  const z3::expr min_slot = p.word(kMinAutoMemslotSize);  // memslot_policy.cpp passes this
  const auto l = decision::auto_layout(region, block, limit, min_slot);
  const z3::expr one = p.word(1);

  // The seeds' memslot size: limit <= 1 gives one memslot (the region), else
  // max(align_up(region / limit, block), max(block, 1 GiB)). Nothing here
  // wraps: region <= 2^52.
  const z3::expr share = z3::udiv(region, limit);
  const z3::expr aligned_share = z3::udiv(share + block - one, block) * block;
  const z3::expr floor_size = z3::ite(z3::ugt(block, min_slot), block, min_slot);
  const z3::expr seed_size = z3::ite(z3::ule(limit, one), region,
                                     z3::ite(z3::ugt(aligned_share, floor_size), aligned_share, floor_size));

  const z3::expr pre = valid_geometry(p, region, block, page);
  const std::vector<std::pair<std::string, z3::expr>> shown = {
      {"region", region}, {"block", block}, {"page", page}, {"limit", limit},
      {"slot size", l.slot_size}, {"count", l.count}, {"seeds' slot size", seed_size}};
  // Counterexamples are looked for first with the limit a fresh machine hands
  // a device spanning its whole device-memory area, so they run as a scenario.
  const z3::expr small = z3::ule(region, p.word(TiB)) && z3::ule(block, p.word(GiB)) &&
                         limit == p.word(256);
  const auto scenario = [=](const Counterexample& value) {
    return auto_scenario(value, region, block, limit, l);
  };
  const auto claim = [&](std::string name, z3::expr conclusion, Method method = Method::Integer) {
    p.prove({"layout.auto." + name, pre, conclusion, small, scenario, shown, method});
  };
  // The seeds' rule, and (with layout.fixed.tiles) invariant 5's tiling: the
  // layout is the fixed layout of the seeds' slot size, a non-zero multiple of
  // the block (hence of the page).
  const auto seeds = decision::fixed_layout(region, seed_size);
  claim("seeds", l.slot_size == seeds.slot_size && l.count == seeds.count);
  p.prove({"layout.auto.size", valid_geometry(p, region, block, page, Method::BitVector),
           l.slot_size != p.word(0) && is_multiple(l.slot_size, block), small, scenario, shown,
           Method::BitVector});
  claim("min-size", z3::implies(z3::ugt(l.count, one),
                                z3::uge(l.slot_size, block) && z3::uge(l.slot_size, min_slot)));
}

// Cancelling a non-zero factor: x*b <= y*b < (x+1)*b => x == y. Returned as
// a lemma over the variables x, y, b.
z3::expr cancel_factor_lemma(Prover& p) {
  const z3::expr x = p.word("x"), y = p.word("y"), b = p.word("b");
  return p.lemma({"layout.auto.count.cancel-factor",
                  b != p.word(0) && z3::ule(wide(x) * wide(b), wide(y) * wide(b)) &&
                      z3::ult(wide(y) * wide(b), (wide(x) + wide(p.ctx(), 1)) * wide(b)),
                  x == y,
                  std::nullopt,
                  {},
                  {{"x", x}, {"y", y}, {"b", b}}});
}

// count <= limit (invariant 5) for the limits the machine hands out:
// 1 <= limit <= 256 (DESIGN §6 soft limit), hence limit < block (>= 1 MiB).
// Neither method decides it in one claim within a minute, so it is a chain.
// With share = region / limit and aligned = align_up(share, block) =
// up * block (the code's terms), each lemma is proven for every value under
// the same preconditions `pre`, assuming `pre` and earlier lemmas only, so
// its conclusion holds whenever `pre` does and later claims may assume it:
//   quotient    limit * share <= region < limit * share + limit;
//   blocks      region == blocks * block (blocks = region / block);
//   rounds-up   aligned >= share: either aligned > share or aligned == share;
//   rounded     aligned > share => limit * aligned >= region (aligned >= share + 1);
//   exact.bounds  aligned == share => (limit*up) * block <= blocks * block
//               < (limit*up + 1) * block, as limit < block;
//   exact       aligned == share => limit * aligned >= region: cancel-factor
//               gives blocks == limit * up, so region == limit * aligned;
//   count-within-limit  the layout's size is the region (count 1) or at least
//               aligned, so limit memslots of it cover the region, and
//               layout.fixed.count (n = limit) bounds the count.
void auto_count_claim(Prover& p, const z3::expr& fixed_count, const z3::expr& cancel_factor) {
  const z3::expr region = p.word("region"), block = p.word("block"), page = p.word("page"),
                 limit = p.word("limit");
  const z3::expr one = p.word(1);
  const z3::expr min_slot = p.word(kMinAutoMemslotSize);
  const auto l = decision::auto_layout(region, block, limit, min_slot);
  const z3::expr pre = valid_geometry(p, region, block, page) && z3::uge(limit, one) &&
                       z3::ule(limit, p.word(kMemslotSoftLimit));
  const z3::expr share = z3::udiv(region, decision::max_of(limit, one));
  const z3::expr aligned = decision::align_up(share, block);
  const z3::expr up = z3::udiv(share + block - one, block);  // aligned == up * block
  const z3::expr blocks = z3::udiv(region, block);
  const std::vector<std::pair<std::string, z3::expr>> shown = {
      {"region", region}, {"block", block}, {"limit", limit}, {"share", share}, {"aligned share", aligned},
      {"slot size", l.slot_size}, {"count", l.count}};
  LemmaChain lemma(p, "layout.auto.count", pre, shown);
  const z3::expr covers = z3::uge(wide(limit) * wide(aligned), wide(region));
  const z3::expr quotient = lemma("quotient", z3::ule(wide(limit) * wide(share), wide(region)) &&
                                                  z3::ult(wide(region), wide(limit) * wide(share) + wide(limit)));
  const z3::expr whole_blocks = lemma("blocks", region == blocks * block);
  const z3::expr rounds_up = lemma("rounds-up", z3::uge(aligned, share));
  const z3::expr rounded = lemma("rounded", quotient, z3::implies(z3::ugt(aligned, share), covers));
  const z3::expr limit_up = wide(limit * up), wide_block = wide(block);
  const z3::expr exact_bounds =
      lemma("exact.bounds", quotient && whole_blocks,
            z3::implies(aligned == share, z3::ule(limit_up * wide_block, wide(blocks) * wide_block) &&
                                              z3::ult(wide(blocks) * wide_block,
                                                      (limit_up + wide(p.ctx(), 1)) * wide_block)));
  const z3::expr exact_blocks = lemma(
      "exact.blocks",
      exact_bounds && instantiate(cancel_factor, {{p.word("x"), limit * up}, {p.word("y"), blocks}, {p.word("b"), block}}),
      z3::implies(aligned == share, blocks == limit * up));
  const z3::expr exact = lemma("exact", exact_blocks && whole_blocks, z3::implies(aligned == share, covers));
  const z3::expr covered = lemma("covers", rounds_up && rounded && exact, covers);
  // Counterexamples are looked for first among sizes a test machine backs.
  const z3::expr small = z3::ule(region, p.word(TiB)) && z3::ule(block, p.word(GiB));
  p.prove({"layout.auto.count-within-limit",
           pre && covered &&
               instantiate(fixed_count, {{p.word("slot-size"), l.slot_size}, {p.word("n"), limit}}),
           z3::ule(l.count, limit), small,
           [=](const Counterexample& value) { return auto_scenario(value, region, block, limit, l); }, shown});
}

// The count layout (v1, mode=count) satisfies invariant 5 for every
// memslots= that validate() accepts (1..1024), with the alignment CountPolicy
// passes (count_layout_align: max(block, 128 MiB)):
//   size          the memslot size is a non-zero multiple of the block, and
//                 the region or a multiple of 128 MiB;
//   fixed         the layout is the fixed layout of its memslot size, so it
//                 tiles the region (layout.fixed.tiles);
//   within-limit  count <= memslots: memslots * size >= region (the size is
//                 at least region / memslots, rounded up), and
//                 layout.fixed.count (n = memslots) bounds the count.
void count_layout_claim(Prover& p, const z3::expr& fixed_count) {
  const z3::expr region = p.word("region"), block = p.word("block"), page = p.word("page"),
                 memslots = p.word("memslots");
  const z3::expr align = decision::count_layout_align(block, p.word(kMinCountMemslotAlign));
  const auto l = decision::count_layout(region, align, memslots);
  const auto pre = [&](Method method) {
    return valid_geometry(p, region, block, page, method) && z3::uge(memslots, p.word(1)) &&
           z3::ule(memslots, p.word(kMaxUserMemslots));
  };
  const std::vector<std::pair<std::string, z3::expr>> shown = {
      {"region", region}, {"block", block}, {"memslots", memslots}, {"slot size", l.slot_size},
      {"count", l.count}};
  const z3::expr small = z3::ule(region, p.word(TiB)) && z3::ule(block, p.word(GiB));
  const auto scenario = [=](const Counterexample& value) -> std::optional<std::string> {
    const uint64_t base = decision::align_up<Word>(0x140000000, value(block));
    return fmt::format(
        "# Counterexample of proof layout.count: the decided layout breaks invariant 5.\n"
        "# The expected outcome is what the proven code decided; the run fails on the\n"
        "# invariant or on that outcome.\n"
        "machine base={:#x} size={}\n"
        "device vmem0 size={} block={} mode=count memslots={} => ok addr={:#x} memslots={} slot-size={}\n",
        base, format_size(value(region)), format_size(value(region)), format_size(value(block)),
        value(memslots), base, value(l.count), format_size(value(l.slot_size)));
  };
  const auto claim = [&](std::string name, z3::expr conclusion, Method method = Method::Integer) {
    p.prove({"layout.count." + name, pre(method), conclusion, small, scenario, shown, method});
  };
  // A non-zero multiple of the block, and the whole region or a multiple of
  // 128 MiB (seed 002; both are powers of two).
  claim("size",
        l.slot_size != p.word(0) && is_multiple(l.slot_size, block) &&
            (l.slot_size == region || is_multiple(l.slot_size, p.word(kMinCountMemslotAlign))),
        Method::BitVector);
  const auto fixed = decision::fixed_layout(region, l.slot_size);
  claim("fixed", l.slot_size == fixed.slot_size && l.count == fixed.count);
  // Lemmas over the core's terms (see auto_count_claim): the share rounded
  // up covers the region in `memslots` slots.
  const z3::expr share = decision::div_ceil(region, decision::max_of(memslots, p.word(1)));
  const z3::expr aligned = decision::align_up(share, align);
  LemmaChain lemma(p, "layout.count", pre(Method::Integer), shown);
  const z3::expr share_covers = lemma("share-covers", z3::uge(wide(memslots) * wide(share), wide(region)));
  const z3::expr rounds_up = lemma("rounds-up", z3::uge(aligned, share));
  const z3::expr covers =
      lemma("covers", share_covers && rounds_up, z3::uge(wide(memslots) * wide(aligned), wide(region)));
  p.prove({"layout.count.within-limit",
           pre(Method::Integer) && covers &&
               instantiate(fixed_count, {{p.word("slot-size"), l.slot_size}, {p.word("n"), memslots}}),
           z3::ule(l.count, memslots), small, scenario, shown});
}

}  // namespace

void layout_proof(Prover& p) {
  auto_layout_claim(p);
  const z3::expr fixed_count = fixed_count_lemma(p);
  const z3::expr cancel_factor = cancel_factor_lemma(p);
  auto_count_claim(p, fixed_count, cancel_factor);
  count_layout_claim(p, fixed_count);
  fixed_layout_claim(p);
}

}  // namespace vmemcheck::proofs
