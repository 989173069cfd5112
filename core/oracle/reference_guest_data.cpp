#include "reference_guest_data.hpp"

namespace vmemcheck {
namespace {
constexpr uint64_t kWord = 8;
}  // namespace

void ReferenceGuestData::store(uint64_t offset, std::span<const uint8_t> bytes) {
  // Byte by byte: the slow, obvious way, little-endian like x86.
  for (size_t i = 0; i < bytes.size(); ++i) {
    const uint64_t at = offset + i;
    auto [word, added] = words_.try_emplace(at & ~(kWord - 1), uint64_t{0});
    if (!word->second) continue;  // an unknown word stays unknown
    const uint64_t shift = 8 * (at % kWord);
    *word->second = (*word->second & ~(uint64_t{0xff} << shift)) | uint64_t{bytes[i]} << shift;
  }
}

void ReferenceGuestData::forget(uint64_t offset, uint64_t size) {
  for (uint64_t word = offset & ~(kWord - 1); word < offset + size; word += kWord) words_[word] = std::nullopt;
}

std::optional<uint64_t> ReferenceGuestData::load(uint64_t offset) const {
  const auto it = words_.find(offset);
  return it == words_.end() ? std::optional<uint64_t>{0} : it->second;
}

void ReferenceGuestData::discard(uint64_t offset, uint64_t size) {
  words_.erase(words_.lower_bound(offset), words_.lower_bound(offset + size));
}

}  // namespace vmemcheck
