// The device's plugged-block bitmap with word-level range operations, so that
// a 1 TiB device with 2 MiB blocks (524,288 blocks) costs 8,192 words and a
// range query touches one word per 64 blocks.
#pragma once

#include <cstdint>
#include <vector>

namespace vmemcheck {

class BlockBitmap {
 public:
  explicit BlockBitmap(uint64_t blocks = 0);

  uint64_t size() const { return blocks_; }
  uint64_t count_set() const { return set_; }

  // Ranges are [first, first + count) and must lie inside the bitmap
  // (asserted): callers validate requests before touching blocks.
  void set_range(uint64_t first, uint64_t count);
  void clear_range(uint64_t first, uint64_t count);
  void clear_all();
  bool test(uint64_t block) const;
  bool all_set(uint64_t first, uint64_t count) const;
  bool none_set(uint64_t first, uint64_t count) const;
  uint64_t count_set(uint64_t first, uint64_t count) const;

  // First set / clear block at or after `from`, or size() if there is none.
  uint64_t next_set(uint64_t from) const;
  uint64_t next_clear(uint64_t from) const;

  const std::vector<uint64_t>& words() const { return words_; }
  friend bool operator==(const BlockBitmap& a, const BlockBitmap& b) {
    return a.blocks_ == b.blocks_ && a.words_ == b.words_;
  }

 private:
  // Applies `op(word_index, mask)` to every word the range covers.
  template <class Op>
  void for_each_word(uint64_t first, uint64_t count, Op op) const;

  uint64_t blocks_;
  uint64_t set_ = 0;
  std::vector<uint64_t> words_;
  // Every word from here on is zero (an upper bound: clearing does not lower
  // it). next_set() stops here, so asking for a plugged block beyond the
  // usable region after every step costs nothing when none was ever plugged there.
  uint64_t words_in_use_ = 0;
};

}  // namespace vmemcheck
