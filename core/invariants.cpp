#include "invariants.hpp"

#include <algorithm>
#include <set>
#include <tuple>

#include <fmt/format.h>

namespace vmemcheck {
namespace {

void check_device(const VirtioMemDevice& d, std::vector<std::string>& out) {
  const auto& c = d.config();
  const auto& layout = d.layout();
  const auto& bitmap = d.bitmap();
  const auto report = [&](int number, std::string what) {
    out.push_back(fmt::format("invariant {} broken on device '{}': {}", number, c.id, what));
  };
  const MapRule rule = d.policy().map_rule();
  for (uint64_t i = 0; i < layout.count; ++i) {
    const uint64_t first = layout.offset(i) / c.block_size;
    const uint64_t blocks = layout.length(i) / c.block_size;
    const bool holds_plugged = !bitmap.none_set(first, blocks);
    if (holds_plugged && !d.slot_mapped(i)) {
      report(1, fmt::format("memslot {} holds plugged blocks but is not mapped", i));
    }
    if (rule == MapRule::PluggedBlocks && d.slot_mapped(i) && !holds_plugged) {
      report(2, fmt::format("memslot {} is mapped but holds no plugged block", i));
    }
    if (rule == MapRule::UsableRegion && d.slot_mapped(i) != (layout.offset(i) < d.usable_region_size())) {
      report(3, fmt::format("memslot {} at offset {:#x} is {}mapped with usable region {:#x}", i,
                            layout.offset(i), d.slot_mapped(i) ? "" : "not ", d.usable_region_size()));
    }
    if (rule == MapRule::WholeRegion && !d.slot_mapped(i)) {
      report(3, fmt::format("memslot {} of a whole-region device is not mapped", i));
    }
  }
  const ConfigSpace cs = d.config_space();
  if (cs.plugged_size != bitmap.count_set() * c.block_size) {
    report(4, fmt::format("plugged_size {:#x} != {} plugged blocks * {:#x}", cs.plugged_size,
                          bitmap.count_set(), c.block_size));
  }
  if (cs.usable_region_size > cs.region_size || cs.usable_region_size % c.block_size != 0) {
    report(4, fmt::format("usable_region_size {:#x} exceeds region {:#x} or is unaligned",
                          cs.usable_region_size, cs.region_size));
  }
  if (const uint64_t outside = bitmap.next_set(cs.usable_region_size / c.block_size); outside < bitmap.size()) {
    report(4, fmt::format("block {} (offset {:#x}) is plugged beyond the usable region {:#x}", outside,
                          outside * c.block_size, cs.usable_region_size));
  }
  // Invariant 5: the layout tiles the region; all slots but the last have one size.
  if (layout.count == 0 || layout.slot_size == 0 || layout.slot_size % c.block_size != 0 ||
      (layout.count - 1) * layout.slot_size >= c.region_size ||
      layout.count * layout.slot_size < c.region_size) {
    report(5, fmt::format("{} memslots of {:#x} bytes do not tile the {:#x}-byte region in block-size "
                          "steps", layout.count, layout.slot_size, c.region_size));
  }
  if (d.policy().decides_automatically() && layout.count > 1) {
    if (layout.slot_size < std::max(c.block_size, kMinAutoMemslotSize)) {
      report(5, fmt::format("memslot size {:#x} is below max(block, 1 GiB)", layout.slot_size));
    }
    if (layout.count > d.memslot_limit()) {
      report(5, fmt::format("{} memslots exceed the limit {} the machine handed in", layout.count,
                            d.memslot_limit()));
    }
  }
}

}  // namespace

std::vector<std::string> check_invariants(const Machine& machine, const ShadowKvm* shadow) {
  std::vector<std::string> out;
  uint64_t promised = 0;
  const auto devices = machine.devices();
  for (const VirtioMemDevice* device : devices) {
    check_device(*device, out);
    promised += device->layout().count;
  }
  const MemslotBudget budget = machine.budget();
  if (machine.config().reserved_memslots + promised > budget.max) {
    out.push_back(fmt::format("invariant 5 broken: memory devices were promised {} memslots, with {} "
                              "reserved that exceeds the machine's {}", promised,
                              machine.config().reserved_memslots, budget.max));
  }
  if (shadow == nullptr) return out;
  // Invariant 6: the memory devices' part of the KVM slot table equals the
  // core's view, address space by address space.
  using Key = std::tuple<uint32_t, uint64_t, uint64_t, uint64_t>;  // as, gpa, size, hva
  std::multiset<Key> expected;
  std::multiset<Key> actual;
  const uint32_t spaces = machine.config().smm ? 2 : 1;
  for (const VirtioMemDevice* device : devices) {
    const auto hva = machine.kvm_backend().device_hva(device->handle_id());
    for (uint64_t i = 0; i < device->layout().count; ++i) {
      if (!device->slot_mapped(i)) continue;
      const SlotMapping s = device->slot(i);
      for (uint32_t as = 0; as < spaces; ++as) {
        expected.insert({as, s.gpa, s.size, hva.value_or(0) + s.backing_offset});
      }
    }
  }
  for (const KvmRegion& r : shadow->slots()) {
    // Ids below reserved_memslots belong to other consumers (boot memory, PCI BARs, vhost).
    if ((r.slot & 0xffff) < machine.config().reserved_memslots) continue;
    actual.insert({r.slot >> 16, r.guest_phys_addr, r.memory_size, r.userspace_addr});
  }
  if (expected != actual) {
    std::string diff;
    for (const Key& k : expected) {
      if (!actual.contains(k)) diff += fmt::format(" missing in KVM: as{} [{:#x}, +{:#x}) hva {:#x};", std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k));
    }
    for (const Key& k : actual) {
      if (!expected.contains(k)) diff += fmt::format(" extra in KVM: as{} [{:#x}, +{:#x}) hva {:#x};", std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k));
    }
    out.push_back("invariant 6 broken: the KVM slot table differs from the core's view:" + diff);
  }
  return out;
}

}  // namespace vmemcheck
