// scripts/mutate's own test (mutate_test.py): one place for each semantic
// operator (mutate/semantic.py), written so that every semantic mutant of
// this file changes what it prints, and the schemata test can tell each one
// switched on and compiled.
#include <cstdint>
#include <cstdio>

// Another variable: `block` and `offset` are both uint64_t in scope.
uint64_t block_address(uint64_t block, uint64_t offset) { return block * 4096 + offset; }

// Call operands swapped: two uint64_t arguments.
uint64_t first_of_range(uint64_t start, uint64_t end) { return start < end ? start : 7; }

// Narrow arithmetic: the virtio ring's free-running u16 indices.
int pending_entries(uint16_t avail_idx, uint16_t last_avail) {
  const auto pending = static_cast<uint16_t>(avail_idx - last_avail);
  return pending;
}
int64_t entries_between(uint16_t used_idx, uint16_t avail_idx) { return used_idx - avail_idx; }

// Bound replaced: the queue's size and the table's length.
struct Queue {
  uint64_t size;
  uint64_t table_length;
};
int in_bounds(const Queue& q, uint64_t head, uint64_t index) {
  int count = 0;
  if (head < q.size) count += 1;
  if (index < q.table_length) count *= 3;
  return count;
}

// Condition dropped: both fields must be in range.
struct Region {
  uint64_t usable;
  uint64_t size;
};
bool fits(const Region& r, uint64_t at) { return at < r.usable && at < r.size; }

// Statements swapped: the order of the updates matters, and the guard's
// statement ends in a brace before its ';'.
uint64_t scaled_total(uint64_t total) {
  if (total == 0) return uint64_t{9};
  total += 3;
  total *= 5;
  return total;
}

int main() {
  const Queue q{4, 16};
  std::printf("%lu %lu %d %ld %d %d %d %d %d %lu %lu\n", static_cast<unsigned long>(block_address(2, 5)),
              static_cast<unsigned long>(first_of_range(1, 9)), pending_entries(2, 65535),
              static_cast<long>(entries_between(1, 2)), in_bounds(q, 8, 8), in_bounds(q, 2, 8), in_bounds(q, 2, 18),
              fits({8, 16}, 12), fits({16, 8}, 12), static_cast<unsigned long>(scaled_total(1)),
              static_cast<unsigned long>(scaled_total(0)));
}
