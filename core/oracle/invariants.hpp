// DESIGN §3's invariants, checked on a running machine after every step of a
// scenario, a property test or a fuzz input. Each violation is a sentence
// naming the invariant, the device and the values that broke it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "machine.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {

// Invariants 1-5 on every device, 5's machine budget, and 6 (the shadow KVM
// slot table equals the core's view) when `shadow` is given.
std::vector<std::string> check_invariants(const Machine& machine, const ShadowKvm* shadow);

// The same checks, with the same sentences in the same order, after every
// step of one machine's life, at the cost of what the step changed rather
// than of the machine's size (a fuzzer checks tens of steps per input).
//
// Why that is sound: a memslot's invariants 1-3 read only its blocks'
// bitmap words, its mapped flag, the usable region and the layout; the
// monitor keeps its own copy of the words and flags it last checked and
// re-checks exactly the memslots where the device's differ now (and every
// memslot when the layout, usable region, map rule, address or backing
// changed). It compares the values themselves, so nothing rests on the
// device reporting its changes. Invariant 6 is kept as a running count of
// expected minus actual KVM entries: the device side changes with the flags
// and shapes above, the KVM side with the shadow's own journal of its table
// (ShadowKvm::keep_journal, asked for on the first check). Invariants 4 and
// 5 are cheap and re-checked every time, as is anything found broken before,
// so a violation keeps being reported as by the full check.
class InvariantMonitor {
 public:
  std::vector<std::string> check(const Machine& machine, ShadowKvm* shadow);

 private:
  using Key = std::tuple<uint32_t, uint64_t, uint64_t, uint64_t>;  // address space, gpa, size, hva
  // Everything a device's per-memslot checks read besides the words and flags.
  struct Shape {
    MemslotLayout layout;
    uint64_t addr = 0;
    uint64_t block_size = 0;
    uint64_t usable = 0;
    MapRule rule = MapRule::WholeRegion;
    std::optional<uint64_t> hva;
    friend bool operator==(const Shape&, const Shape&) = default;
  };
  struct Seen {
    std::string id;
    Shape shape;
    std::vector<uint64_t> words;
    std::vector<uint8_t> mapped;
    std::vector<Key> slot_keys;  // memslot i's KVM entry in address space 0, for this shape
    std::vector<uint64_t> broken_slots;
  };
  // Memslots of `device` whose words or flag differ from `seen` (which is
  // brought up to date), plus those broken before; sorted, unique. The ones
  // whose flag changed are added to `flipped`.
  static void changed_slots(const VirtioMemDevice& device, Seen& seen, std::vector<uint64_t>& slots,
                            std::vector<uint64_t>& flipped, std::vector<uint64_t>& scratch);
  // Adds (+1) or removes (-1) memslot i of `seen` in every address space.
  void count_slot(const Seen& seen, uint64_t i, int64_t delta);
  void count(const Key& key, int64_t delta) { pending_.emplace_back(key, delta); }
  // Adds this check's counts to difference_.
  void settle();

  std::vector<Seen> devices_;  // in the machine's order of devices
  uint32_t address_spaces_ = 1;
  bool following_kvm_ = false;
  // Expected minus actual entries per key, sorted, zeros dropped. A step's
  // counts are collected in pending_ and settled once: the device side and
  // the journal cancel out there without a tree node per memslot.
  std::vector<std::pair<Key, int64_t>> difference_;
  std::vector<std::pair<Key, int64_t>> pending_;
  std::vector<uint64_t> slots_;  // scratch, kept for its capacity
  std::vector<uint64_t> flipped_;
  std::vector<uint64_t> scratch_;
};

}  // namespace vmemcheck
