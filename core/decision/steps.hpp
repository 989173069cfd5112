// The steps of the requests that change what is plugged and mapped (DESIGN §6
// PLUG, UNPLUG, UNPLUG_ALL and the host resize), written once over a word
// type W and a truth type B, like decision.hpp's arithmetic: device.cpp runs
// them with uint64_t and bool, proofs/activation_proof.cpp and
// proofs/usable_proof.cpp with Z3 terms, and proves that every step keeps
// DESIGN §3's invariants 1-4.
//
// A step is told the outcome of the backend calls it made (activated,
// populated) and says what follows: which memslots it decides (a range) and
// how it decides each one, whether the block bits change, and the usable
// region afterwards. The device carries that out on its bitmap and its
// backend; it keeps no step logic of its own.
#pragma once

#include "decision.hpp"

namespace vmemcheck::decision {

// Whether index i lies in [range.first, range.end).
template <class W>
auto in_range(const IndexRange<W>& range, W i) {
  return ule(range.first, i) && ult(i, range.end);
}

// The blocks memslot `index` holds, `count` of them from `first`: what the
// plugged-blocks rule looks at.
template <class W>
struct BlockSpan {
  W first;
  W count;
};
template <class W>
BlockSpan<W> slot_blocks(W region, W slot_size, W block, W index) {
  return {udiv(slot_offset(slot_size, index), block), udiv(slot_length(region, slot_size, index), block)};
}

// The per-memslot mapping decision of each map rule (memslot_policy.hpp):
// whole region, a plugged block in the memslot, or the memslot starting
// inside the usable region.
template <class W, class B>
B slot_wanted(B whole_region_rule, B plugged_blocks_rule, B holds_plugged, W slot_offset_bytes, W usable) {
  return whole_region_rule ||
         select(plugged_blocks_rule, holds_plugged, slot_mapped_by_usable_region(slot_offset_bytes, usable));
}

// PLUG, DESIGN §6 step 6: before populating, one transaction maps every
// memslot the request touches. A refused transaction changes nothing.
template <class W>
IndexRange<W> plug_activation_range(const IndexRange<W>& touched) {
  return touched;
}
template <class B>
B mapped_after_activation(B mapped) {
  return boolean(mapped, true);
}

// PLUG whose population failed after the activation: the memslots it
// touched are brought back to what the unchanged bitmap wants, which unmaps
// exactly those this request activated.
template <class B>
B plug_rolls_back(B activated, B populated) {
  return activated && !populated;
}
template <class W>
IndexRange<W> plug_rollback_range(const IndexRange<W>& touched) {
  return touched;
}

// PLUG sets its blocks' bits only when every backend call succeeded;
// otherwise the answer is BUSY and the bitmap stays as it was.
template <class B>
B plug_sets_bits(B activated, B populated) {
  return activated && populated;
}

// UNPLUG, after clearing the bits: the touched memslots are decided again,
// so a partly covered memslot stays mapped while any of its blocks is still
// plugged.
template <class W>
IndexRange<W> unplug_decided_range(const IndexRange<W>& touched) {
  return touched;
}
template <class B>
B mapped_after_unplug(B wanted) {
  return wanted;
}

// UNPLUG_ALL (and system reset), after clearing every bit: every memslot is
// decided again, with the usable region computed afresh (it may shrink).
template <class W>
IndexRange<W> unplug_all_decided_range(W slot_count) {
  return {literal(slot_count, 0), slot_count};
}
template <class W>
W usable_after_unplug_all(W region, W block, W requested, W extent) {
  return usable_region_size(region, block, requested, extent);
}

// A host resize (requested-size changed): the usable region only grows, so
// no plugged block can fall outside it; every memslot is decided again.
template <class W>
W usable_after_resize(W usable, W region, W block, W new_requested, W extent) {
  return max_of(usable, usable_region_size(region, block, new_requested, extent));
}
template <class W>
IndexRange<W> resize_decided_range(W slot_count) {
  return {literal(slot_count, 0), slot_count};
}

// What a memslot that a step decides again (PLUG's rollback, UNPLUG_ALL, the
// host resize, and realize and migration's load, which decide every memslot)
// becomes: mapped exactly when wanted. A memslot outside the step's range
// keeps its state.
template <class B>
B mapped_when_decided(B wanted) {
  return wanted;
}

}  // namespace vmemcheck::decision
