#include "invariants.hpp"

#include <algorithm>
#include <optional>
#include <tuple>

#include <fmt/format.h>

namespace vmemcheck {
namespace {

void report(std::vector<std::string>& out, const VirtioMemDevice& d, int number, std::string what) {
  out.push_back(fmt::format("invariant {} broken on device '{}': {}", number, d.config().id, what));
}

// Memslot i's offset and length, derived here from the layout's slot size
// (DESIGN §6: all memslots but the last have one size) rather than asked of
// the device, whose arithmetic is what is being checked. Precondition: i < count.
uint64_t slot_offset(const MemslotLayout& layout, uint64_t i) { return i * layout.slot_size; }
uint64_t slot_length(const MemslotLayout& layout, uint64_t i) {
  return std::min(layout.slot_size, layout.region_size - slot_offset(layout, i));
}

// Invariants 1-3 for memslot i. Returns whether it holds them.
bool check_slot(const VirtioMemDevice& d, MapRule rule, uint64_t i, std::vector<std::string>& out) {
  const size_t before = out.size();
  const auto& layout = d.layout();
  const uint64_t first = slot_offset(layout, i) / d.config().block_size;
  const uint64_t blocks = slot_length(layout, i) / d.config().block_size;
  const bool holds_plugged = !d.bitmap().none_set(first, blocks);
  if (holds_plugged && !d.slot_mapped(i)) {
    report(out, d, 1, fmt::format("memslot {} holds plugged blocks but is not mapped", i));
  }
  if (rule == MapRule::PluggedBlocks && d.slot_mapped(i) && !holds_plugged) {
    report(out, d, 2, fmt::format("memslot {} is mapped but holds no plugged block", i));
  }
  if (rule == MapRule::UsableRegion && d.slot_mapped(i) != (slot_offset(layout, i) < d.usable_region_size())) {
    report(out, d, 3, fmt::format("memslot {} at offset {:#x} is {}mapped with usable region {:#x}", i,
                                  slot_offset(layout, i), d.slot_mapped(i) ? "" : "not ", d.usable_region_size()));
  }
  if (rule == MapRule::WholeRegion && !d.slot_mapped(i)) {
    report(out, d, 3, fmt::format("memslot {} of a whole-region device is not mapped", i));
  }
  return out.size() == before;
}

// Invariants 4 and 5 of one device.
void check_device_wide(const VirtioMemDevice& d, std::vector<std::string>& out) {
  const auto& c = d.config();
  const auto& layout = d.layout();
  const auto& bitmap = d.bitmap();
  const ConfigSpace cs = d.config_space();
  if (cs.plugged_size != bitmap.count_set() * c.block_size) {
    report(out, d, 4, fmt::format("plugged_size {:#x} != {} plugged blocks * {:#x}", cs.plugged_size,
                                  bitmap.count_set(), c.block_size));
  }
  if (cs.usable_region_size > cs.region_size || cs.usable_region_size % c.block_size != 0) {
    report(out, d, 4, fmt::format("usable_region_size {:#x} exceeds region {:#x} or is unaligned",
                                  cs.usable_region_size, cs.region_size));
  }
  if (const uint64_t outside = bitmap.next_set(cs.usable_region_size / c.block_size); outside < bitmap.size()) {
    report(out, d, 4, fmt::format("block {} (offset {:#x}) is plugged beyond the usable region {:#x}", outside,
                                  outside * c.block_size, cs.usable_region_size));
  }
  // Invariant 5: the layout tiles the region; all slots but the last have one size.
  if (layout.count == 0 || layout.slot_size == 0 || layout.slot_size % c.block_size != 0 ||
      (layout.count - 1) * layout.slot_size >= c.region_size ||
      layout.count * layout.slot_size < c.region_size) {
    report(out, d, 5, fmt::format("{} memslots of {:#x} bytes do not tile the {:#x}-byte region in block-size "
                                  "steps", layout.count, layout.slot_size, c.region_size));
  }
  if (d.policy().decides_automatically() && layout.count > 1) {
    if (layout.slot_size < std::max(c.block_size, kMinAutoMemslotSize)) {
      report(out, d, 5, fmt::format("memslot size {:#x} is below max(block, 1 GiB)", layout.slot_size));
    }
    if (layout.count > d.memslot_limit()) {
      report(out, d, 5, fmt::format("{} memslots exceed the limit {} the machine handed in", layout.count,
                                    d.memslot_limit()));
    }
  }
}

void check_budget(const Machine& machine, std::vector<std::string>& out) {
  uint64_t promised = 0;
  for (const VirtioMemDevice* device : machine.devices()) promised += device->layout().count;
  const MemslotBudget budget = machine.budget();
  if (machine.config().reserved_memslots + promised > budget.max) {
    out.push_back(fmt::format("invariant 5 broken: memory devices were promised {} memslots, with {} "
                              "reserved that exceeds the machine's {}", promised,
                              machine.config().reserved_memslots, budget.max));
  }
}

using Key = std::tuple<uint32_t, uint64_t, uint64_t, uint64_t>;  // address space, gpa, size, hva

// Sorts `items` (stably), which the monitor builds from a few ascending runs
// (memslots in index order, KVM calls in a transaction's order), by merging
// neighbouring runs: O(n log runs) where std::sort pays O(n log n) on the
// thousands of entries a step over many memslots makes.
template <class T, class Less>
void sort_runs(std::vector<T>& items, std::vector<T>& scratch, Less less) {
  for (size_t runs = 2; runs > 1;) {
    runs = 0;
    scratch.clear();
    const auto run_end = [&](size_t from) {
      while (from < items.size() && !less(items[from], items[from - 1])) ++from;
      return from;
    };
    for (size_t start = 0; start < items.size(); ++runs) {
      const size_t middle = run_end(start + 1);
      const size_t end = middle < items.size() ? run_end(middle + 1) : middle;
      const auto at = [&](size_t i) { return items.begin() + static_cast<std::ptrdiff_t>(i); };
      std::merge(at(start), at(middle), at(middle), at(end), std::back_inserter(scratch), less);
      start = end;
    }
    items.swap(scratch);
  }
}

// Invariant 6's keys in address order (the order the device and KVM calls
// produce them in), then by address space.
bool gpa_first(const std::pair<Key, int64_t>& a, const std::pair<Key, int64_t>& b) {
  const auto& [as_a, gpa_a, size_a, hva_a] = a.first;
  const auto& [as_b, gpa_b, size_b, hva_b] = b.first;
  return std::tie(gpa_a, as_a, size_a, hva_a) < std::tie(gpa_b, as_b, size_b, hva_b);
}

// A KVM slot as invariant 6 compares it, if it is in the memory devices' part
// of the table: ids below reserved_memslots belong to other consumers (boot
// memory, PCI BARs, vhost).
std::optional<Key> device_part_key(const KvmRegion& r, uint32_t reserved_ids) {
  if ((r.slot & 0xffff) < reserved_ids) return std::nullopt;
  return Key{r.slot >> 16, r.guest_phys_addr, r.memory_size, r.userspace_addr};
}

// Invariant 6: the memory devices' part of the KVM slot table equals the
// core's view, address space by address space. Returns whether it holds.
bool check_kvm_table(const Machine& machine, const ShadowKvm& shadow, std::vector<std::string>& out) {
  // Sorted vectors compared as multisets: no node allocation per memslot.
  std::vector<Key> expected;
  std::vector<Key> actual;
  const uint32_t spaces = machine.config().smm ? 2 : 1;
  for (const VirtioMemDevice* device : machine.devices()) {
    const auto hva = machine.kvm_backend().device_hva(device->handle_id());
    for (uint64_t i = 0; i < device->layout().count; ++i) {
      if (!device->slot_mapped(i)) continue;
      const SlotMapping s = device->slot(i);
      for (uint32_t as = 0; as < spaces; ++as) {
        expected.push_back({as, s.gpa, s.size, hva.value_or(0) + s.backing_offset});
      }
    }
  }
  for (const KvmRegion& r : shadow.slots()) {
    if (const auto key = device_part_key(r, machine.config().reserved_memslots)) actual.push_back(*key);
  }
  std::sort(expected.begin(), expected.end());
  std::sort(actual.begin(), actual.end());
  if (expected == actual) return true;
  const auto contains = [](const std::vector<Key>& keys, const Key& k) {
    return std::binary_search(keys.begin(), keys.end(), k);
  };
  std::string diff;
  for (const Key& k : expected) {
    if (!contains(actual, k)) diff += fmt::format(" missing in KVM: as{} [{:#x}, +{:#x}) hva {:#x};", std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k));
  }
  for (const Key& k : actual) {
    if (!contains(expected, k)) diff += fmt::format(" extra in KVM: as{} [{:#x}, +{:#x}) hva {:#x};", std::get<0>(k), std::get<1>(k), std::get<2>(k), std::get<3>(k));
  }
  out.push_back("invariant 6 broken: the KVM slot table differs from the core's view:" + diff);
  return false;
}

}  // namespace

std::vector<std::string> check_invariants(const Machine& machine, const ShadowKvm* shadow) {
  std::vector<std::string> out;
  for (const VirtioMemDevice* device : machine.devices()) {
    const MapRule rule = device->policy().map_rule();
    for (uint64_t i = 0; i < device->layout().count; ++i) check_slot(*device, rule, i, out);
    check_device_wide(*device, out);
  }
  check_budget(machine, out);
  if (shadow) check_kvm_table(machine, *shadow, out);
  return out;
}

void InvariantMonitor::changed_slots(const VirtioMemDevice& device, Seen& seen, std::vector<uint64_t>& slots,
                                     std::vector<uint64_t>& flipped, std::vector<uint64_t>& scratch) {
  slots.assign(seen.broken_slots.begin(), seen.broken_slots.end());
  seen.broken_slots.clear();
  const MemslotLayout& layout = device.layout();
  const uint64_t block_size = device.config().block_size;
  const std::vector<uint64_t>& words = device.bitmap().words();
  // Most steps change nothing here: one comparison of the whole array first.
  const bool words_changed = words != seen.words;
  for (size_t w = 0; words_changed && w < words.size(); ++w) {
    if (words[w] == seen.words[w]) continue;
    seen.words[w] = words[w];
    // The memslots holding blocks 64w .. 64w+63 (the last word may be partial).
    const uint64_t first_block = uint64_t{w} * 64;
    const uint64_t last_block = std::min<uint64_t>(first_block + 63, device.bitmap().size() - 1);
    for (uint64_t slot = first_block * block_size / layout.slot_size;
         slot <= last_block * block_size / layout.slot_size; ++slot) {
      slots.push_back(slot);
    }
  }
  const std::span<const uint8_t> mapped = device.mapped_flags();
  const bool flags_changed = !std::ranges::equal(mapped, seen.mapped);
  for (uint64_t i = 0; flags_changed && i < layout.count; ++i) {
    if (mapped[i] == seen.mapped[i]) continue;
    seen.mapped[i] = mapped[i];
    slots.push_back(i);
    flipped.push_back(i);
  }
  sort_runs(slots, scratch, std::less<uint64_t>{});
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
}

void InvariantMonitor::settle() {
  if (pending_.empty()) return;
  pending_.insert(pending_.end(), difference_.begin(), difference_.end());
  sort_runs(pending_, difference_, gpa_first);
  difference_.clear();
  for (size_t i = 0; i < pending_.size();) {
    int64_t sum = 0;
    size_t j = i;
    for (; j < pending_.size() && pending_[j].first == pending_[i].first; ++j) sum += pending_[j].second;
    if (sum != 0) difference_.emplace_back(pending_[i].first, sum);
    i = j;
  }
  pending_.clear();
}

void InvariantMonitor::count_slot(const Seen& seen, uint64_t i, int64_t delta) {
  for (uint32_t as = 0; as < address_spaces_; ++as) {
    Key key = seen.slot_keys[i];
    std::get<0>(key) = as;
    count(key, delta);
  }
}

std::vector<std::string> InvariantMonitor::check(const Machine& machine, ShadowKvm* shadow) {
  std::vector<std::string> out;
  address_spaces_ = machine.config().smm ? 2 : 1;
  const uint32_t reserved_ids = machine.config().reserved_memslots;
  if (shadow && !following_kvm_) {
    // From now on the journal tells what changed; what is there already is counted once.
    shadow->keep_journal();
    shadow->clear_journal();
    for (const KvmRegion& r : shadow->slots()) {
      if (const auto key = device_part_key(r, reserved_ids)) count(*key, -1);
    }
    following_kvm_ = true;
  }
  const auto devices = machine.devices();
  for (size_t k = 0; k < devices.size(); ++k) {
    const VirtioMemDevice* device = devices[k];
    const MapRule rule = device->policy().map_rule();
    const Shape shape{device->layout(), device->addr(), device->config().block_size, device->usable_region_size(),
                      rule, machine.kvm_backend().device_hva(device->handle_id())};
    // What was seen of this device moves to place k (devices come and go).
    const auto known = std::find_if(devices_.begin() + static_cast<std::ptrdiff_t>(k), devices_.end(),
                                    [&](const Seen& seen) { return seen.id == device->config().id; });
    const bool was_known = known != devices_.end();
    if (!was_known) {
      devices_.insert(devices_.begin() + static_cast<std::ptrdiff_t>(k), Seen{});
      devices_[k].id = device->config().id;
    } else {
      std::rotate(devices_.begin() + static_cast<std::ptrdiff_t>(k), known, known + 1);
    }
    Seen& seen = devices_[k];
    std::vector<uint64_t>& slots = slots_;
    slots.clear();
    if (was_known && seen.shape == shape) {
      flipped_.clear();
      changed_slots(*device, seen, slots, flipped_, scratch_);
      for (uint64_t i : flipped_) count_slot(seen, i, seen.mapped[i] ? +1 : -1);
    } else {
      // New, or its shape changed: every memslot, from a fresh copy.
      for (uint64_t i = 0; i < seen.mapped.size(); ++i) {
        if (seen.mapped[i]) count_slot(seen, i, -1);
      }
      seen.broken_slots.clear();
      seen.shape = shape;
      seen.words = device->bitmap().words();
      seen.mapped.assign(device->mapped_flags().begin(), device->mapped_flags().end());
      seen.slot_keys.clear();
      for (uint64_t i = 0; i < device->layout().count; ++i) {
        const SlotMapping s = device->slot(i);
        seen.slot_keys.push_back({0, s.gpa, s.size, shape.hva.value_or(0) + s.backing_offset});
        if (seen.mapped[i]) count_slot(seen, i, +1);
        slots.push_back(i);
      }
    }
    for (uint64_t i : slots) {
      if (!check_slot(*device, rule, i, out)) seen.broken_slots.push_back(i);
    }
    check_device_wide(*device, out);
  }
  // A device that is gone took its memslots with it.
  for (size_t k = devices.size(); k < devices_.size(); ++k) {
    for (uint64_t i = 0; i < devices_[k].mapped.size(); ++i) {
      if (devices_[k].mapped[i]) count_slot(devices_[k], i, -1);
    }
  }
  devices_.resize(devices.size());
  check_budget(machine, out);
  if (shadow) {
    for (const ShadowKvm::TableChange& change : shadow->journal()) {
      if (const auto key = device_part_key(change.region, reserved_ids)) count(*key, -change.delta);
    }
    shadow->clear_journal();
  }
  settle();
  if (!shadow) return out;
  // Broken: the full comparison words it as check_invariants() does.
  if (!difference_.empty() && check_kvm_table(machine, *shadow, out)) {
    out.push_back("invariant monitor out of step with the KVM slot table (a bug in the monitor)");
  }
  return out;
}

}  // namespace vmemcheck
