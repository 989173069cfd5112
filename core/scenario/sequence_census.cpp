#include "sequence_census.hpp"

namespace vmemcheck::scenario {

void SequenceCensus::read(uint64_t gpa) {
  const auto it = words_.find(gpa);
  if (it != words_.end() && it->second == Phase::Replugged) ++counts_.write_unplug_plug_read;
}

void SequenceCensus::advance(uint64_t gpa, uint64_t size, Phase from, Phase to) {
  // [gpa, gpa + size) may wrap: the device refused such a range, so it never comes here.
  for (auto it = words_.lower_bound(gpa); it != words_.end() && it->first - gpa < size; ++it) {
    if (it->second == from) it->second = to;
  }
}

void SequenceCensus::unplugged(uint64_t gpa, uint64_t size) { advance(gpa, size, Phase::Written, Phase::Unplugged); }

void SequenceCensus::plugged(uint64_t gpa, uint64_t size) { advance(gpa, size, Phase::Unplugged, Phase::Replugged); }

}  // namespace vmemcheck::scenario
