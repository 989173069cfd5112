// How often a run reaches the sequences that the guest-data and host-side
// checks exist for, so a generator that stops making them shows up as a
// number, not as a check that silently never fires:
// - write, unplug, plug, read: a word the guest wrote, whose block an
//   UNPLUG (or UNPLUG_ALL) gave up and a PLUG brought back, read again;
// - remove with plugged blocks: a hot-remove asked of a device that still
//   holds plugged memory (the reference must predict the refusal).
#pragma once

#include <cstdint>
#include <map>

namespace vmemcheck::scenario {

struct SequenceCounts {
  uint64_t steps = 0;
  uint64_t write_unplug_plug_read = 0;
  uint64_t remove_with_plugged = 0;
};

class SequenceCensus {
 public:
  void step() { ++counts_.steps; }
  // Guest-physical addresses of 8-byte aligned, accessible vCPU accesses.
  void wrote(uint64_t gpa) { words_[gpa] = Phase::Written; }
  void read(uint64_t gpa);
  // Acknowledged requests over [gpa, gpa + size).
  void unplugged(uint64_t gpa, uint64_t size);
  void plugged(uint64_t gpa, uint64_t size);
  void removed_with_plugged() { ++counts_.remove_with_plugged; }
  const SequenceCounts& counts() const { return counts_; }

 private:
  enum class Phase { Written, Unplugged, Replugged };
  void advance(uint64_t gpa, uint64_t size, Phase from, Phase to);

  std::map<uint64_t, Phase> words_;
  SequenceCounts counts_;
};

}  // namespace vmemcheck::scenario
