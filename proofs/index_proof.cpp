// Proof 3: the memslots a block range touches are exactly those
// that intersect it (DESIGN §6 "Memslot layout"), and memslot i covers
// [i*size, min((i+1)*size, region)), only the last one shorter.
//
// For every region up to the guest-physical limit (2^52), every non-zero
// memslot size (clamped to the region as every layout does: the automatic,
// count and fixed layouts all end in count = div_ceil(region, size)), every
// range [offset, offset + length) with 0 < length, offset + length <= region,
// and every memslot index i < count (all 64-bit, nothing bounded):
//   index.touched  i is in decision::touched_slots(size, offset, length)
//                  <=> memslot i (slot_offset, slot_length) intersects the range;
//   index.bounds   the touched range is non-empty and ends at or below count;
//   index.slots    slot i is non-empty, ends inside the region, has the full
//                  size unless it is the last, and the next one starts where
//                  it ends (with layout.fixed.tiles: no gap, no overlap).
#include <fmt/format.h>

#include "device_config.hpp"
#include "proofs.hpp"
#include "units.hpp"

namespace vmemcheck::proofs {
namespace {

// "0-3", "2", "none": how `vmemcheck run` prints a set of memslot indices.
std::string index_range_text(uint64_t first, uint64_t end) {
  if (first >= end) return "none";
  return end - first == 1 ? fmt::format("{}", first) : fmt::format("{}-{}", first, end - 1);
}

}  // namespace

void index_proof(Prover& p) {
  const z3::expr region = p.word("region"), slot = p.word("slot-size"), offset = p.word("offset"),
                 length = p.word("length"), i = p.word("index");
  const auto l = decision::fixed_layout(region, slot);
  const auto touched = decision::touched_slots(l.slot_size, offset, length);
  const z3::expr start = decision::slot_offset(l.slot_size, i);
  const z3::expr slot_length = decision::slot_length(region, l.slot_size, i);
  const z3::expr one = p.word(1);

  // layout.fixed.tiles (proven): count memslots of the clamped size tile the
  // region, (count - 1) * size < region <= count * size; taken as a lemma.
  const z3::expr tiles = z3::ult(wide(l.count - one) * wide(l.slot_size), wide(region)) &&
                         z3::ule(wide(region), wide(l.count) * wide(l.slot_size)) &&
                         z3::ule(l.slot_size, region) && l.slot_size != p.word(0);
  const z3::expr geometry = region != p.word(0) && z3::ule(region, p.word(kMaxGuestPhysical)) &&
                            slot != p.word(0) && z3::ult(i, l.count);
  const z3::expr range = length != p.word(0) && z3::ule(offset, region) && z3::ule(length, region - offset);
  // The textbook intersection of [start, start + slot_length) and [offset, offset + length).
  const z3::expr intersects = z3::ult(start, offset + length) && z3::ult(offset, start + slot_length);

  const std::vector<std::pair<std::string, z3::expr>> shown = {
      {"region", region}, {"slot size", l.slot_size}, {"offset", offset}, {"length", length},
      {"index", i}, {"touched first", touched.first}, {"touched end", touched.end}};
  // Small: a dynamic device on a fresh machine (1 GiB memslots up to 256 GiB),
  // 2 MiB blocks, a range one PLUG request can name.
  const z3::expr block = p.word(2 * MiB);
  const z3::expr small = slot == p.word(GiB) && z3::ule(region, p.word(64 * GiB)) &&
                         is_multiple(region, block) && is_multiple(offset, block) &&
                         is_multiple(length, block) && z3::ule(length, p.word(65535 * 2 * MiB));
  const auto scenario = [=](const Counterexample& value) -> std::optional<std::string> {
    if (value(slot) != GiB || value(region) > 64 * GiB || value(region) % (2 * MiB) != 0 ||
        value(offset) % (2 * MiB) != 0 || value(length) % (2 * MiB) != 0 ||
        value(length) / (2 * MiB) > 65535) {
      return std::nullopt;
    }
    return fmt::format(
        "# Counterexample of proof index.touched: the memslots a PLUG maps are not\n"
        "# those its block range intersects. The expected mapping is what the proven\n"
        "# code decided; the run fails on it (or on invariant 1).\n"
        "machine base=0x140000000 size={}\n"
        "device vmem0 size={} block=2M requested={} mode=dynamic => ok addr=0x140000000 "
        "memslots={} slot-size={}\n"
        "plug vmem0 +{:#x} {} => ACK\n"
        "expect vmem0 mapped={}\n",
        format_size(value(region)), format_size(value(region)), format_size(value(region)),
        value(l.count), format_size(value(l.slot_size)), value(offset), value(length) / (2 * MiB),
        index_range_text(value(touched.first), value(touched.end)));
  };
  // In two halves, each an end of the range (no off-by-one at either end).
  p.prove({"index.touched.end", geometry && tiles && range, z3::ult(i, touched.end) == z3::ult(start, offset + length),
           small, scenario, shown});
  p.prove({"index.bounds", geometry && tiles && range,
           z3::ult(touched.first, touched.end) && z3::ule(touched.end, l.count), std::nullopt, {}, shown});
  // What udiv means, proven first and then assumed (the solver needs it
  // stated): first * size <= offset < (first + 1) * size.
  const z3::expr quotient = z3::ule(wide(touched.first) * wide(l.slot_size), wide(offset)) &&
                            z3::ult(wide(offset), (wide(touched.first) + wide(p.ctx(), 1)) * wide(l.slot_size));
  p.prove({"index.touched.first.quotient", geometry && tiles && range, quotient, std::nullopt, {}, shown});
  p.prove({"index.touched.first", geometry && tiles && quotient && range,
           z3::ule(touched.first, i) == z3::ult(offset, start + slot_length), small, scenario, shown});
  const z3::expr is_last = i == l.count - one;
  p.prove({"index.slots", geometry && tiles,
           slot_length != p.word(0) && z3::ule(slot_length, region - start) &&
               z3::implies(!is_last, slot_length == l.slot_size &&
                                         decision::slot_offset(l.slot_size, i + one) == start + slot_length) &&
               z3::implies(is_last, start + slot_length == region),
           std::nullopt, {}, shown});
}

}  // namespace vmemcheck::proofs
