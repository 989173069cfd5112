// scripts/mutate's own test (mutate_test.py): every mutant of this file
// changes what it prints, so the schemata test can tell each one switched on.
#include <cstdio>

enum class ResponseType { Ack, Nack, Busy, Error };

int clamp_blocks(int blocks, int limit) {
  if (blocks > limit) return limit;
  return blocks - 1;
}

ResponseType answer(bool busy) { return busy ? ResponseType::Busy : ResponseType::Ack; }

int main() {
  int total = 0;
  for (int i = 0; i < 3; ++i) total += clamp_blocks(i * 4, 4);
  std::printf("%d %d %d\n", total, static_cast<int>(answer(true)), static_cast<int>(answer(false)));
}
