#include "block_bitmap.hpp"

#include <algorithm>
#include <bit>
#include <cassert>

namespace vmemcheck {
namespace {
constexpr uint64_t kBits = 64;
}

BlockBitmap::BlockBitmap(uint64_t blocks) : blocks_(blocks), words_((blocks + kBits - 1) / kBits) {}

template <class Op>
void BlockBitmap::for_each_word(uint64_t first, uint64_t count, Op op) const {
  assert(first <= blocks_ && count <= blocks_ - first);
  uint64_t position = first;
  const uint64_t end = first + count;
  while (position < end) {
    const uint64_t index = position / kBits;
    const uint64_t low = position % kBits;
    const uint64_t high = std::min<uint64_t>(kBits, low + (end - position));  // exclusive
    const uint64_t mask = (high - low == kBits) ? ~uint64_t{0} : (((uint64_t{1} << (high - low)) - 1) << low);
    op(index, mask);
    position += high - low;
  }
}

void BlockBitmap::set_range(uint64_t first, uint64_t count) {
  for_each_word(first, count, [this](uint64_t index, uint64_t mask) {
    set_ += static_cast<uint64_t>(std::popcount(mask & ~words_[index]));
    words_[index] |= mask;
    words_in_use_ = std::max(words_in_use_, index + 1);
  });
}

void BlockBitmap::clear_range(uint64_t first, uint64_t count) {
  for_each_word(first, count, [this](uint64_t index, uint64_t mask) {
    set_ -= static_cast<uint64_t>(std::popcount(mask & words_[index]));
    words_[index] &= ~mask;
  });
}

void BlockBitmap::clear_all() {
  std::fill(words_.begin(), words_.begin() + static_cast<std::ptrdiff_t>(words_in_use_), 0);
  set_ = 0;
  words_in_use_ = 0;
}

bool BlockBitmap::test(uint64_t block) const {
  assert(block < blocks_);
  return (words_[block / kBits] >> (block % kBits)) & 1;
}

uint64_t BlockBitmap::count_set(uint64_t first, uint64_t count) const {
  uint64_t total = 0;
  for_each_word(first, count, [&](uint64_t index, uint64_t mask) {
    total += static_cast<uint64_t>(std::popcount(words_[index] & mask));
  });
  return total;
}

bool BlockBitmap::all_set(uint64_t first, uint64_t count) const {
  bool all = true;
  for_each_word(first, count, [&](uint64_t index, uint64_t mask) { all = all && (words_[index] & mask) == mask; });
  return all;
}

// Stops at the first plugged block: the device asks this of every memslot.
bool BlockBitmap::none_set(uint64_t first, uint64_t count) const {
  assert(first <= blocks_ && count <= blocks_ - first);
  const uint64_t end = std::min(first + count, words_in_use_ * kBits);
  for (uint64_t position = first; position < end;) {
    const uint64_t low = position % kBits;
    const uint64_t bits = std::min<uint64_t>(kBits - low, end - position);
    const uint64_t mask = bits == kBits ? ~uint64_t{0} : ((uint64_t{1} << bits) - 1);
    if ((words_[position / kBits] >> low) & mask) return false;
    position += bits;
  }
  return true;
}

uint64_t BlockBitmap::next_set(uint64_t from) const {
  const uint64_t end = std::min(blocks_, words_in_use_ * kBits);
  while (from < end) {
    const uint64_t word = words_[from / kBits] >> (from % kBits);
    if (word != 0) return std::min(blocks_, from + static_cast<uint64_t>(std::countr_zero(word)));
    from = (from / kBits + 1) * kBits;
  }
  return blocks_;
}

uint64_t BlockBitmap::next_clear(uint64_t from) const {
  while (from < blocks_) {
    const uint64_t word = ~words_[from / kBits] >> (from % kBits);
    if (word != 0) return std::min(blocks_, from + static_cast<uint64_t>(std::countr_zero(word)));
    from = (from / kBits + 1) * kBits;
  }
  return blocks_;
}

}  // namespace vmemcheck
