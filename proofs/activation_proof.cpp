// Proof 4: every step of the requests that change what is plugged and
// mapped keeps invariants 1, 2, 3 and 4, inductively (DESIGN §3; §6 PLUG,
// UNPLUG, UNPLUG_ALL, host resize).
//
// From ANY state satisfying the invariants (not only reachable ones), one
// step leads to a state satisfying them again:
//   activation.plug           accepted PLUG: the activation maps, then the bits are set;
//   activation.plug-rollback  PLUG whose populate fails after the activation;
//   activation.plug-refused   PLUG whose activation the backend refuses;
//   activation.unplug         accepted UNPLUG: clear the bits, decide the touched memslots;
//   activation.unplug-all     UNPLUG_ALL: clear, usable afresh, decide every memslot;
//   activation.resize         a host resize: usable grows, decide every memslot.
// Both mapping rules of the dynamic variants: PluggedBlocks (v4, v2 with
// unplugged-inaccessible, fixed: invariants 1, 2) and UsableRegion (v1, v2
// without it: invariants 1, 3); invariant 4 for both.
//
// The steps are the ones device.cpp runs, instantiated from
// core/decision/steps.hpp: which memslots a step decides and how, when PLUG
// rolls back and when it sets its bits, the usable region after UNPLUG_ALL
// and a resize; with decision.hpp's range check, touched range, slot offset
// and length and usable region. What the proof adds is only how device.cpp
// carries a decision out (VirtioMemDevice::decide_slots: the memslots of the
// range become what the step says, the others keep their state, nothing
// changes when the backend refuses) and which blocks a memslot holds
// (slot_wanted: length / block blocks from offset / block).
//
// Bounded: the bitmap has at most kBlocks blocks, so at most kBlocks
// memslots; the block size is each of kBlockSizes. For all sizes: every
// 64-bit device address, request address and 16-bit block count, every
// memslot size that is a non-zero multiple of the block (every layout's, see
// layout.auto.size), every usable and requested size.
#include <fmt/format.h>

#include <functional>

#include "device_config.hpp"
#include "proofs.hpp"
#include "units.hpp"

namespace vmemcheck::proofs {
namespace {

constexpr unsigned kBlocks = 8;
// 2 MiB (x86-64 default); 128 MiB: the usable extent (256 MiB) is then only
// two blocks, so UNPLUG_ALL really shrinks the usable region within 8 blocks.
constexpr uint64_t kBlockSizes[] = {2 * MiB, 128 * MiB};

struct State {
  std::vector<z3::expr> plugged;  // bitmap, kBlocks bits
  std::vector<z3::expr> mapped;   // memslots, kBlocks of them
  z3::expr usable;
};

class Device {
 public:
  Device(Prover& p, uint64_t block_size)
      : p_(p),
        block(p.word(block_size)),
        blocks(p.word("blocks")),
        region(blocks * block),
        slot(p.word("slot-size")),
        layout(decision::fixed_layout(region, slot)),
        addr(p.word("addr")),
        requested(p.word("requested")),
        plugged_rule(p.ctx().bool_const("plugged-blocks rule")) {}

  Prover& p_;
  const z3::expr block, blocks, region, slot;
  const decision::Layout<z3::expr> layout;
  const z3::expr addr, requested, plugged_rule;

  z3::expr index(unsigned i) const { return p_.word(i); }
  z3::expr offset(unsigned i) const { return decision::slot_offset(layout.slot_size, index(i)); }

  // Block j lies in [first, first + count).
  static z3::expr in_blocks(const z3::expr& j, const z3::expr& first, const z3::expr& count) {
    return z3::ule(first, j) && z3::ult(j - first, count);
  }

  // Whether memslot i holds a plugged block, as the invariants define it:
  // one of the length / block blocks from offset / block.
  z3::expr holds_plugged(const State& s, unsigned i) const {
    const z3::expr length = decision::slot_length(region, layout.slot_size, index(i));
    return any_plugged(s, z3::udiv(offset(i), block), z3::udiv(length, block));
  }
  // What the step decides for memslot i: the blocks it looks at are the code's.
  z3::expr wanted(const State& s, unsigned i) const {
    const auto looked_at = decision::slot_blocks(region, layout.slot_size, block, index(i));
    const z3::expr holds = any_plugged(s, looked_at.first, looked_at.count);
    return decision::slot_wanted(p_.ctx().bool_val(false), plugged_rule, holds, offset(i), s.usable);
  }
  z3::expr any_plugged(const State& s, const z3::expr& first, const z3::expr& count) const {
    z3::expr_vector any(p_.ctx());
    for (unsigned j = 0; j < kBlocks; ++j) any.push_back(s.plugged[j] && in_blocks(index(j), first, count));
    return z3::mk_or(any);
  }
  // device.cpp decide_slots(range, mapped_after): the memslots of the range
  // become what the step decides, the others keep their state.
  template <class MappedAfter>
  std::vector<z3::expr> decide(const State& s, const decision::IndexRange<z3::expr>& range,
                               MappedAfter mapped_after) const {
    std::vector<z3::expr> out;
    for (unsigned i = 0; i < kBlocks; ++i) {
      out.push_back(z3::ite(decision::in_range(range, index(i)), mapped_after(i), s.mapped[i]));
    }
    return out;
  }
  // The same, for a step that decides each memslot by what is wanted of it.
  template <class MappedWhenWanted>
  std::vector<z3::expr> decide_by_wanted(const State& s, const decision::IndexRange<z3::expr>& range,
                                         MappedWhenWanted mapped_when_wanted) const {
    return decide(s, range, [&](unsigned i) { return mapped_when_wanted(wanted(s, i)); });
  }
  z3::expr plugged_size(const State& s) const {
    z3::expr sum = p_.word(0);
    for (const auto& bit : s.plugged) sum = sum + z3::ite(bit, p_.word(1), p_.word(0));
    return sum * block;  // device.hpp: bitmap_.count_set() * block_size
  }

  // The device's configuration (validate()) and the layout's (layout.auto.size).
  z3::expr configured() const {
    return z3::ule(p_.word(1), blocks) && z3::ule(blocks, p_.word(kBlocks)) && slot != p_.word(0) &&
           is_multiple(slot, block) && z3::ule(slot, p_.word(kMaxGuestPhysical)) &&
           is_multiple(addr, block) && z3::ule(addr, p_.word(kMaxGuestPhysical)) &&
           z3::ule(requested, region) && is_multiple(requested, block);
  }

  // DESIGN §3 invariants 1-4 (plugged_size == popcount * block holds by
  // construction: device.hpp computes it so), plus the model's own shape.
  z3::expr invariants(const State& s) const {
    z3::expr_vector all(p_.ctx());
    all.push_back(z3::ule(s.usable, region) && is_multiple(s.usable, block));
    for (unsigned j = 0; j < kBlocks; ++j) {
      all.push_back(z3::implies(s.plugged[j], z3::ult(index(j), blocks)));                 // shape
      all.push_back(z3::implies(s.plugged[j], z3::ult(index(j) * block, s.usable)));       // 4
    }
    for (unsigned i = 0; i < kBlocks; ++i) {
      const z3::expr exists = z3::ult(index(i), layout.count);
      const z3::expr holds = holds_plugged(s, i);
      all.push_back(z3::implies(s.mapped[i], exists));                                      // shape
      all.push_back(z3::implies(exists && holds, s.mapped[i]));                             // 1
      all.push_back(z3::implies(plugged_rule && s.mapped[i], holds));                       // 2
      all.push_back(z3::implies(exists && !plugged_rule,
                                s.mapped[i] == decision::slot_mapped_by_usable_region(offset(i), s.usable)));  // 3
    }
    return z3::mk_and(all);
  }
};

State fresh_state(Prover& p, const std::string& prefix) {
  State s{{}, {}, p.word(prefix + "usable")};
  for (unsigned j = 0; j < kBlocks; ++j) s.plugged.push_back(p.ctx().bool_const(fmt::format("{}plugged{}", prefix, j).c_str()));
  for (unsigned i = 0; i < kBlocks; ++i) s.mapped.push_back(p.ctx().bool_const(fmt::format("{}mapped{}", prefix, i).c_str()));
  return s;
}

std::string index_set_text(const std::vector<bool>& set) {
  std::string out;
  for (unsigned i = 0; i < set.size();) {
    if (!set[i]) { ++i; continue; }
    unsigned last = i;
    while (last + 1 < set.size() && set[last + 1]) ++last;
    out += (out.empty() ? "" : ",") + (last == i ? fmt::format("{}", i) : fmt::format("{}-{}", i, last));
    i = last + 1;
  }
  return out.empty() ? "none" : out;
}

enum class Op { Plug, PlugRollback, PlugRefused, Unplug, UnplugAll, Resize };

// The states after each step, built from core/decision/steps.hpp as
// device.cpp runs it.
struct Steps {
  State plugged, rolled_back, refused, unplugged, emptied, resized;
};

Steps run_steps(Prover& p, const Device& d, const State& before, const decision::IndexRange<z3::expr>& touched,
                const std::function<z3::expr(unsigned)>& in_request, const z3::expr& extent,
                const z3::expr& new_requested) {
  Steps out{before, before, before, before, before, before};
  // PLUG with the backend's answers: the activation (one transaction,
  // nothing changed when refused), then populate; a rollback when the step
  // says so; the bits when the step says so.
  const auto plug = [&](bool activation_accepted, bool populate_succeeded) {
    const z3::expr activated = p.ctx().bool_val(activation_accepted);
    const z3::expr populated = activated && p.ctx().bool_val(populate_succeeded);
    State after = before;
    const auto activation = d.decide(before, decision::plug_activation_range(touched),
                                     [&](unsigned i) { return decision::mapped_after_activation(before.mapped[i]); });
    for (unsigned i = 0; i < kBlocks; ++i) after.mapped[i] = z3::ite(activated, activation[i], before.mapped[i]);
    const auto rolled_back = d.decide_by_wanted(after, decision::plug_rollback_range(touched),
                                                [](const z3::expr& wanted) { return decision::mapped_when_decided(wanted); });
    const z3::expr rolls_back = decision::plug_rolls_back(activated, populated);
    for (unsigned i = 0; i < kBlocks; ++i) after.mapped[i] = z3::ite(rolls_back, rolled_back[i], after.mapped[i]);
    const z3::expr sets_bits = decision::plug_sets_bits(activated, populated);
    for (unsigned j = 0; j < kBlocks; ++j) after.plugged[j] = before.plugged[j] || (in_request(j) && sets_bits);
    return after;
  };
  out.plugged = plug(true, true);
  out.rolled_back = plug(true, false);
  out.refused = plug(false, false);

  // UNPLUG: clear the bits, decide the memslots the step names.
  for (unsigned j = 0; j < kBlocks; ++j) out.unplugged.plugged[j] = before.plugged[j] && !in_request(j);
  out.unplugged.mapped = d.decide_by_wanted(out.unplugged, decision::unplug_decided_range(touched),
                                            [](const z3::expr& wanted) { return decision::mapped_after_unplug(wanted); });

  // UNPLUG_ALL: clear everything, the usable region afresh, decide the memslots the step names.
  for (auto& bit : out.emptied.plugged) bit = p.ctx().bool_val(false);
  out.emptied.usable = decision::usable_after_unplug_all(d.region, d.block, d.requested, extent);
  out.emptied.mapped = d.decide_by_wanted(out.emptied, decision::unplug_all_decided_range(d.layout.count),
                                          [](const z3::expr& wanted) { return decision::mapped_when_decided(wanted); });

  // Host resize: the usable region after it, decide the memslots the step names.
  out.resized.usable = decision::usable_after_resize(before.usable, d.region, d.block, new_requested, extent);
  out.resized.mapped = d.decide_by_wanted(out.resized, decision::resize_decided_range(d.layout.count),
                                          [](const z3::expr& wanted) { return decision::mapped_when_decided(wanted); });
  return out;
}

void step_claims(Prover& p, uint64_t block_size) {
  const Device d(p, block_size);
  const State before = fresh_state(p, "");
  const z3::expr gpa = p.word("gpa"), nb = p.word("nb_blocks");
  const z3::expr size = nb * d.block;  // device.cpp handle(): 64-bit, may wrap
  const z3::expr offset = gpa - d.addr;
  const z3::expr first_block = z3::udiv(offset, d.block), count = z3::udiv(size, d.block);
  const z3::expr valid = z3::ule(nb, p.word(65535)) &&
                         decision::request_range_valid(d.addr, before.usable, d.block, gpa, nb);
  const auto touched = decision::touched_slots(d.layout.slot_size, offset, size);
  const auto in_request = [&](unsigned j) { return Device::in_blocks(p.word(j), first_block, count); };
  z3::expr_vector none_set(p.ctx()), all_set(p.ctx());
  for (unsigned j = 0; j < kBlocks; ++j) {
    none_set.push_back(z3::implies(in_request(j), !before.plugged[j]));
    all_set.push_back(z3::implies(in_request(j), before.plugged[j]));
  }
  const z3::expr pre = d.configured() && d.invariants(before);
  const z3::expr plug_accepted = valid && !z3::ugt(d.plugged_size(before) + size, d.requested) &&
                                 z3::mk_and(none_set);
  const z3::expr extent = p.word("extent");
  const z3::expr any_extent = extent == p.word(usable_extent(Arch::X86_64)) ||
                              extent == p.word(usable_extent(Arch::Arm64));
  // A host resize takes any block-aligned size up to the region (device.cpp set_requested_size).
  const z3::expr new_requested = p.word("new requested");
  const z3::expr resize_accepted = any_extent && z3::ule(new_requested, d.region) && is_multiple(new_requested, d.block);
  const Steps after = run_steps(p, d, before, touched, in_request, extent, new_requested);

  const std::string suffix = fmt::format(".block-{}", format_size(block_size));
  const std::vector<std::pair<std::string, z3::expr>> shown = {
      {"blocks", d.blocks}, {"slot size", d.layout.slot_size}, {"memslots", d.layout.count},
      {"addr", d.addr}, {"usable", before.usable}, {"requested", d.requested}, {"gpa", gpa},
      {"nb_blocks", nb}, {"touched first", touched.first}, {"touched end", touched.end},
      {"new requested", new_requested}};
  // Small: what a scenario can set up (a fixed-layout device at the machine's
  // base, usable = region), written out with the pre-state plugged block by block.
  const z3::expr small = d.addr == p.word(0x140000000) && before.usable == d.region &&
                         d.requested == d.region && d.plugged_rule;
  const auto scenario_for = [&](Op op, const State& after_step) -> ScenarioWriter {
    return [=, &p](const Counterexample& v) -> std::optional<std::string> {
      const auto bit = [&](const z3::expr& b) { return v(z3::ite(b, p.word(1), p.word(0))) == 1; };
      if (v(d.addr) != 0x140000000 || v(before.usable) != v(d.region) || v(d.requested) != v(d.region) ||
          !bit(d.plugged_rule)) {
        return std::nullopt;
      }
      std::string text = fmt::format(
          "# Counterexample of proof activation: from a state satisfying invariants\n"
          "# 1-4, one step breaks them. The state expected is what the proven code\n"
          "# decided; the run fails on it or on the invariants.\n"
          "machine base=0x140000000 size={}\n"
          "device vmem0 size={} block={} requested={} mode=fixed slot-size={} => ok addr=0x140000000\n",
          format_size(v(d.region)), format_size(v(d.region)), format_size(block_size),
          format_size(v(d.region)), format_size(v(d.layout.slot_size)));
      for (unsigned j = 0; j < kBlocks; ++j) {
        if (bit(before.plugged[j])) text += fmt::format("plug vmem0 +{:#x} 1 => ACK\n", j * block_size);
      }
      switch (op) {
        case Op::Plug: text += fmt::format("plug vmem0 {:#x} {} => ACK\n", v(gpa), v(nb)); break;
        case Op::PlugRollback:
          text += fmt::format("fail populate device=vmem0\nplug vmem0 {:#x} {} => BUSY\n", v(gpa), v(nb));
          break;
        case Op::PlugRefused:
          text += fmt::format("fail map device=vmem0\nplug vmem0 {:#x} {} => BUSY\n", v(gpa), v(nb));
          break;
        case Op::Unplug: text += fmt::format("unplug vmem0 {:#x} {} => ACK\n", v(gpa), v(nb)); break;
        case Op::UnplugAll: text += "unplug-all vmem0 => ACK\n"; break;
        case Op::Resize: text += fmt::format("resize vmem0 {}\n", format_size(v(new_requested))); break;
      }
      std::vector<bool> mapped;
      uint64_t plugged_blocks = 0;
      for (unsigned i = 0; i < kBlocks; ++i) mapped.push_back(bit(after_step.mapped[i]));
      for (unsigned j = 0; j < kBlocks; ++j) plugged_blocks += bit(after_step.plugged[j]) ? 1 : 0;
      text += fmt::format("expect vmem0 mapped={} plugged={:#x} usable={:#x}\n", index_set_text(mapped),
                          plugged_blocks * block_size, v(after_step.usable));
      return text;
    };
  };
  const auto claim = [&](const std::string& name, Op op, const z3::expr& accepted, const State& after_step) {
    p.prove({"activation." + name + suffix, pre && accepted, d.invariants(after_step), small,
             scenario_for(op, after_step), shown, Method::BitVector});
  };
  claim("plug", Op::Plug, plug_accepted, after.plugged);
  claim("plug-rollback", Op::PlugRollback, plug_accepted, after.rolled_back);
  claim("plug-refused", Op::PlugRefused, plug_accepted, after.refused);
  claim("unplug", Op::Unplug, valid && z3::mk_and(all_set), after.unplugged);
  claim("unplug-all", Op::UnplugAll, any_extent, after.emptied);
  claim("resize", Op::Resize, resize_accepted, after.resized);
}

}  // namespace

void activation_proof(Prover& p) {
  for (const uint64_t block_size : kBlockSizes) step_claims(p, block_size);
}

}  // namespace vmemcheck::proofs
