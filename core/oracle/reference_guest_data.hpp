// What the guest reads back from a device's memory (invariant 7), predicted
// word by word: every 8-byte word it or the device's DMA wrote, wherever the
// memory was accessible (plugged or not), keeps its value until a discard
// makes it read zero again. Memory never written reads zero. The reference
// model says when a discard happens (an unplug, UNPLUG_ALL with blocks
// plugged, a failed plug's rollback, a destination's unplugged blocks);
// nothing else changes what a backend holds, so nothing else is "unspecified".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>

namespace vmemcheck {

class ReferenceGuestData {
 public:
  // `bytes` written at device offset `offset` (any alignment).
  void store(uint64_t offset, std::span<const uint8_t> bytes);
  // The words an access at `offset` touched hold something the reference
  // cannot predict (a vCPU store across two words, whose halves may meet
  // different fates at a memslot edge).
  void forget(uint64_t offset, uint64_t size);
  // The word at the 8-byte aligned `offset`; nullopt when forgotten.
  std::optional<uint64_t> load(uint64_t offset) const;
  // The words of [offset, offset + size) read zero again.
  void discard(uint64_t offset, uint64_t size);
  void discard_all() { words_.clear(); }
  // Discards every word for which `discarded(offset)` holds.
  template <class Predicate>
  void discard_where(Predicate discarded) {
    std::erase_if(words_, [&](const auto& word) { return discarded(word.first); });
  }
  // Words that differ from zero, or are unknown.
  size_t tracked_words() const { return words_.size(); }

 private:
  // Aligned offset -> value (nullopt: unknown); absent words read zero.
  std::map<uint64_t, std::optional<uint64_t>> words_;
};

}  // namespace vmemcheck
