// The decision arithmetic of the device, written once over a word type.
//
// These templates are the single source of the layout decision, request-range
// validation, memslot index ranges, the usable-region size, the per-memslot
// mapping decision and the machine's memslot limit. The device instantiates
// them with uint64_t (word.hpp); proofs/ instantiates them with Z3 bit-vectors.
// Rules: unsigned helpers only (ult/ule/udiv/urem/select), no data-dependent
// branches, every intermediate free of 64-bit overflow under the stated
// preconditions (or wrapping exactly like the device it models).
#pragma once

#include "word.hpp"

namespace vmemcheck::decision {

// A power-of-two-free round-up; precondition: x + align - 1 does not wrap.
template <class W>
W align_up(W x, W align) {
  return udiv(x + align - literal(x, 1), align) * align;
}

template <class W>
W max_of(W a, W b) {
  return select(ult(a, b), b, a);
}

template <class W>
W min_of(W a, W b) {
  return select(ult(a, b), a, b);
}

// ceil(a / b) without forming a + b - 1 (which could wrap near 2^64).
template <class W>
W div_ceil(W a, W b) {
  return udiv(a, b) + select(urem(a, b) == literal(a, 0), literal(a, 0), literal(a, 1));
}

// DESIGN §6 "Usable region". Preconditions: requested <= region, region a
// multiple of block. The min() is computed as "region - requested <= extent"
// so that requested + extent cannot wrap.
template <class W>
W usable_region_size(W region, W block, W requested, W extent) {
  const W capped = select(ule(region - requested, extent), region, requested + extent);
  return select(requested == literal(requested, 0), literal(requested, 0),
                align_up(capped, block));
}

// DESIGN §6 range check shared by PLUG, UNPLUG and STATE. size is
// nb_blocks * block computed in 64 bits and may wrap, exactly like the device
// (a wrapped size is then judged like any other). Precondition:
// device_addr + usable does not wrap (config validation guarantees it).
template <class W>
auto request_range_valid(W device_addr, W usable, W block, W gpa, W nb_blocks) {
  const W size = nb_blocks * block;
  const W end = gpa + size;
  return urem(gpa, block) == literal(gpa, 0) && size != literal(gpa, 0) && ule(gpa, end) &&
         ule(device_addr, gpa) && ule(end, device_addr + usable);
}

template <class W>
struct Layout {
  W slot_size;
  W count;
};

// DESIGN §6 "Memslot layout" (v2 and v4, seed 000/001): at most one memslot
// per min_slot (1 GiB), slot sizes block aligned, the last may be shorter.
// Preconditions: block > 0, region > 0 and a multiple of block.
template <class W>
Layout<W> auto_layout(W region, W block, W limit, W min_slot) {
  const W one = literal(region, 1);
  const W safe_limit = max_of(limit, one);  // the division below must not see 0
  const W wanted = max_of(align_up(udiv(region, safe_limit), block), max_of(block, min_slot));
  // A slot at least as large as the region is the single-memslot case.
  const W size = select(ule(limit, one) || ule(region, wanted), region, wanted);
  return {size, div_ceil(region, size)};
}

// v1 (seed 002) aligns its memslots to the block and to at least `min_align`
// (128 MiB).
template <class W>
W count_layout_align(W block, W min_align) {
  return max_of(block, min_align);
}

// Layout for a user-chosen memslot count (v1, seed 002): slots are a multiple
// of `align` (count_layout_align) and at least `align`.
template <class W>
Layout<W> count_layout(W region, W align, W count) {
  const W one = literal(region, 1);
  const W wanted = max_of(align_up(div_ceil(region, max_of(count, one)), align), align);
  const W size = select(ule(count, one) || ule(region, wanted), region, wanted);
  return {size, div_ceil(region, size)};
}

// Layout with a fixed slot size (Firecracker-style). Precondition: size > 0.
template <class W>
Layout<W> fixed_layout(W region, W slot_size) {
  const W size = select(ule(region, slot_size), region, slot_size);
  return {size, div_ceil(region, size)};
}

template <class W>
struct IndexRange {
  W first;  // inclusive
  W end;    // exclusive
};

// The memslots a block range [offset, offset + length) touches:
// offset / size <= i < ceil((offset + length) / size).
// Precondition: offset + length <= region (so it does not wrap).
template <class W>
IndexRange<W> touched_slots(W slot_size, W offset, W length) {
  return {udiv(offset, slot_size), div_ceil(offset + length, slot_size)};
}

template <class W>
W slot_offset(W slot_size, W index) {
  return index * slot_size;
}

// Length of slot `index`; the last one may be shorter than slot_size.
template <class W>
W slot_length(W region, W slot_size, W index) {
  return min_of(region - index * slot_size, slot_size);
}

// The per-memslot mapping decision of each mapping rule (memslot_policy.hpp).
template <class W>
auto slot_mapped_by_usable_region(W slot_offset_bytes, W usable) {
  return ult(slot_offset_bytes, usable);
}

// DESIGN §6 "Memory-device core": the memslot limit handed to a device that
// decides automatically. `max_slots` and `free_slots` are the minima over the
// KVM and vhost backends; `required` counts memslots promised to memory
// devices, `used` those of them mapped now (required >= used); `space` is the
// memory-device area, `used_region` the bytes devices already occupy there.
// Preconditions: device_size <= space - used_region, device_size < 2^52 (the
// guest-physical address width, so n * device_size with n <= 256 fits).
template <class W>
W auto_memslot_limit(W max_slots, W free_slots, W required, W used, W space, W used_region,
                     W device_size, W soft_limit, W safe_max) {
  const W zero = literal(max_slots, 0);
  const W one = literal(max_slots, 1);
  const W reserved = required - used;
  const auto starved = ult(max_slots, safe_max) || ule(soft_limit, required) ||
                       ult(free_slots, reserved);
  const W headroom = select(ule(soft_limit, required), zero, soft_limit - required);
  const W spare = select(ult(free_slots, reserved), zero, free_slots - reserved);
  const W n = min_of(headroom, spare);
  const W free_space = space - used_region;
  // A device spanning all free space gets every spare memslot; others a share
  // proportional to their size.
  const W share = select(ule(free_space, device_size), n,
                         max_of(udiv(n * device_size, max_of(free_space, one)), one));
  return select(starved || ult(n, one), one, share);
}

}  // namespace vmemcheck::decision
