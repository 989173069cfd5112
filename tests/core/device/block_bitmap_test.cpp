#include "block_bitmap.hpp"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace vmemcheck {
namespace {

TEST(BlockBitmap, StartsEmpty) {
  BlockBitmap bitmap(130);
  EXPECT_EQ(bitmap.size(), 130u);
  EXPECT_EQ(bitmap.count_set(), 0u);
  EXPECT_EQ(bitmap.words().size(), 3u);  // ceil(130 / 64)
  EXPECT_TRUE(bitmap.none_set(0, 130));
  EXPECT_FALSE(bitmap.all_set(0, 1));
}

TEST(BlockBitmap, DefaultIsZeroBlocks) {
  BlockBitmap bitmap;
  EXPECT_EQ(bitmap.size(), 0u);
  EXPECT_TRUE(bitmap.words().empty());
  EXPECT_EQ(bitmap.next_set(0), 0u);
  EXPECT_EQ(bitmap.next_clear(0), 0u);
}

TEST(BlockBitmap, SetRangeInsideOneWord) {
  BlockBitmap bitmap(64);
  bitmap.set_range(3, 5);
  EXPECT_EQ(bitmap.count_set(), 5u);
  EXPECT_EQ(bitmap.words()[0], uint64_t{0b11111000});
  EXPECT_FALSE(bitmap.test(2));
  EXPECT_TRUE(bitmap.test(3));
  EXPECT_TRUE(bitmap.test(7));
  EXPECT_FALSE(bitmap.test(8));
}

TEST(BlockBitmap, SetRangeAcrossWordBoundary) {
  BlockBitmap bitmap(200);
  bitmap.set_range(60, 10);  // blocks 60..69: 4 in word 0, 6 in word 1
  EXPECT_EQ(bitmap.count_set(), 10u);
  EXPECT_EQ(bitmap.words()[0], uint64_t{0xF} << 60);
  EXPECT_EQ(bitmap.words()[1], uint64_t{0x3F});
  EXPECT_EQ(bitmap.words()[2], 0u);
  EXPECT_TRUE(bitmap.all_set(60, 10));
  EXPECT_FALSE(bitmap.all_set(59, 10));
  EXPECT_FALSE(bitmap.all_set(61, 10));
}

TEST(BlockBitmap, SetRangeCoveringWholeWords) {
  BlockBitmap bitmap(256);
  bitmap.set_range(64, 128);  // exactly words 1 and 2: the full-word mask
  EXPECT_EQ(bitmap.words()[0], 0u);
  EXPECT_EQ(bitmap.words()[1], ~uint64_t{0});
  EXPECT_EQ(bitmap.words()[2], ~uint64_t{0});
  EXPECT_EQ(bitmap.words()[3], 0u);
  EXPECT_EQ(bitmap.count_set(), 128u);
}

TEST(BlockBitmap, SetRangeCountsOnlyNewBits) {
  BlockBitmap bitmap(100);
  bitmap.set_range(10, 20);
  bitmap.set_range(25, 10);  // 25..29 were already set
  EXPECT_EQ(bitmap.count_set(), 25u);
  EXPECT_EQ(bitmap.count_set(10, 25), 25u);
}

TEST(BlockBitmap, ClearRangeCountsOnlyClearedBits) {
  BlockBitmap bitmap(150);
  bitmap.set_range(0, 100);
  bitmap.clear_range(90, 40);  // only 90..99 were set
  EXPECT_EQ(bitmap.count_set(), 90u);
  EXPECT_TRUE(bitmap.all_set(0, 90));
  EXPECT_TRUE(bitmap.none_set(90, 60));
}

TEST(BlockBitmap, ClearAll) {
  BlockBitmap bitmap(129);
  bitmap.set_range(0, 129);
  EXPECT_EQ(bitmap.count_set(), 129u);
  bitmap.clear_all();
  EXPECT_EQ(bitmap.count_set(), 0u);
  EXPECT_TRUE(bitmap.none_set(0, 129));
}

TEST(BlockBitmap, LastPartialWord) {
  BlockBitmap bitmap(130);
  bitmap.set_range(128, 2);
  EXPECT_EQ(bitmap.words()[2], uint64_t{0b11});
  EXPECT_TRUE(bitmap.all_set(128, 2));
  EXPECT_EQ(bitmap.count_set(0, 130), 2u);
}

TEST(BlockBitmap, RangeQueriesOnMixedRange) {
  BlockBitmap bitmap(128);
  bitmap.set_range(62, 1);
  EXPECT_FALSE(bitmap.all_set(60, 8));
  EXPECT_FALSE(bitmap.none_set(60, 8));
  EXPECT_EQ(bitmap.count_set(60, 8), 1u);
  EXPECT_TRUE(bitmap.none_set(63, 65));
  EXPECT_TRUE(bitmap.none_set(0, 62));
}

TEST(BlockBitmap, EmptyRangeQueries) {
  BlockBitmap bitmap(64);
  bitmap.set_range(0, 64);
  // Vacuous truth for an empty range, like "every block in []".
  EXPECT_TRUE(bitmap.all_set(10, 0));
  EXPECT_TRUE(bitmap.none_set(10, 0));
  EXPECT_EQ(bitmap.count_set(10, 0), 0u);
  bitmap.set_range(64, 0);
  EXPECT_EQ(bitmap.count_set(), 64u);
}

TEST(BlockBitmap, NextSetAndNextClear) {
  BlockBitmap bitmap(300);
  bitmap.set_range(5, 3);     // 5, 6, 7
  bitmap.set_range(130, 70);  // 130..199
  EXPECT_EQ(bitmap.next_set(0), 5u);
  EXPECT_EQ(bitmap.next_set(6), 6u);
  EXPECT_EQ(bitmap.next_set(8), 130u);  // skips whole empty words
  EXPECT_EQ(bitmap.next_set(200), 300u);
  EXPECT_EQ(bitmap.next_clear(5), 8u);
  EXPECT_EQ(bitmap.next_clear(130), 200u);
  EXPECT_EQ(bitmap.next_clear(0), 0u);
  EXPECT_EQ(bitmap.next_set(300), 300u);
  EXPECT_EQ(bitmap.next_clear(300), 300u);
}

TEST(BlockBitmap, NextClearOnFullBitmapIsSize) {
  // 100 blocks: the padding bits of the last word must not count as clear blocks.
  BlockBitmap bitmap(100);
  bitmap.set_range(0, 100);
  EXPECT_EQ(bitmap.next_clear(0), 100u);
  EXPECT_EQ(bitmap.next_clear(99), 100u);
  EXPECT_EQ(bitmap.next_set(99), 99u);
}

// The word boundaries the scans step over: the last bit of a word, the first
// bit of the next.
TEST(BlockBitmap, NextSetAndNextClearAtWordEdges) {
  BlockBitmap bitmap(256);
  bitmap.set_range(63, 1);
  EXPECT_EQ(bitmap.next_set(63), 63u);  // the last bit of the last word in use
  EXPECT_EQ(bitmap.next_set(64), 256u);
  bitmap.set_range(10, 54);             // 10..63: the rest of word 0 full
  bitmap.set_range(65, 63);             // 65..127: word 1 full but for bit 64
  EXPECT_EQ(bitmap.next_clear(10), 64u);
  bitmap.set_range(64, 1);
  bitmap.set_range(129, 63);            // 129..191, bit 128 clear
  EXPECT_EQ(bitmap.next_clear(10), 128u);
  EXPECT_EQ(bitmap.next_set(128), 129u);
  bitmap.clear_range(0, 256);
  bitmap.set_range(192, 1);
  EXPECT_EQ(bitmap.next_set(0), 192u);  // the first bit of a word after empty ones
  EXPECT_EQ(bitmap.next_set(191), 192u);
}

TEST(BlockBitmap, EqualityComparesContent) {
  BlockBitmap a(100), b(100), c(101);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  a.set_range(3, 1);
  EXPECT_NE(a, b);
  b.set_range(3, 1);
  EXPECT_EQ(a, b);
}

TEST(BlockBitmap, EqualAfterDifferentHistories) {
  // One bitmap plugged high and cleared again, one never touched: the same content.
  BlockBitmap a(1000), b(1000);
  a.set_range(900, 50);
  a.clear_range(900, 50);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.next_set(0), 1000u);
  EXPECT_TRUE(a.none_set(0, 1000));
}

// Random ranges against a byte per block: the queries' early exits (first
// plugged block, the high-water mark of words in use) answer as a plain scan.
TEST(BlockBitmap, QueriesMatchAPlainScan) {
  std::mt19937_64 rng(7);
  for (uint64_t trial = 0; trial < 200; ++trial) {
    const uint64_t blocks = 1 + rng() % 700;
    BlockBitmap bitmap(blocks);
    std::vector<uint8_t> plain(blocks, 0);
    for (int step = 0; step < 50; ++step) {
      const uint64_t first = rng() % blocks;
      const uint64_t count = rng() % (blocks - first + 1);
      switch (rng() % 4) {
        case 0: bitmap.set_range(first, count); std::fill_n(plain.begin() + first, count, 1); break;
        case 1: bitmap.clear_range(first, count); std::fill_n(plain.begin() + first, count, 0); break;
        case 2: if (rng() % 8 == 0) { bitmap.clear_all(); std::fill(plain.begin(), plain.end(), 0); } break;
        default: break;
      }
      const uint64_t q_first = rng() % (blocks + 1);
      const uint64_t q_count = rng() % (blocks - q_first + 1);
      const auto range = plain.begin() + static_cast<std::ptrdiff_t>(q_first);
      const auto plugged = static_cast<uint64_t>(std::count(range, range + static_cast<std::ptrdiff_t>(q_count), 1));
      ASSERT_EQ(bitmap.none_set(q_first, q_count), plugged == 0) << "blocks " << blocks << " [" << q_first << ", +" << q_count << ")";
      ASSERT_EQ(bitmap.all_set(q_first, q_count), plugged == q_count);
      ASSERT_EQ(bitmap.count_set(q_first, q_count), plugged);
      const auto next = std::find(range, plain.end(), 1);
      ASSERT_EQ(bitmap.next_set(q_first), static_cast<uint64_t>(next - plain.begin())) << "from " << q_first;
      const auto next_unplugged = std::find(range, plain.end(), 0);
      ASSERT_EQ(bitmap.next_clear(q_first), static_cast<uint64_t>(next_unplugged - plain.begin())) << "from " << q_first;
      ASSERT_EQ(bitmap.count_set(), static_cast<uint64_t>(std::count(plain.begin(), plain.end(), 1)));
    }
  }
}

TEST(BlockBitmap, OneTebibyteOfTwoMebibyteBlocks) {
  // 524,288 blocks in 8,192 words, as the header promises.
  BlockBitmap bitmap(524288);
  EXPECT_EQ(bitmap.words().size(), 8192u);
  bitmap.set_range(1000, 500000);
  EXPECT_EQ(bitmap.count_set(), 500000u);
  EXPECT_EQ(bitmap.next_clear(1000), 501000u);
  EXPECT_EQ(bitmap.count_set(0, 524288), 500000u);
}

}  // namespace
}  // namespace vmemcheck
