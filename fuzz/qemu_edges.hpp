// QEMU's own edge coverage as fuzz_qemu's feedback. An instrumented QEMU
// (scripts/build-qemu; qemu/source-build/edge_map.c) counts its edges into
// the System V shared memory that VMEMCHECK_EDGE_MAP names; every QEMU this
// process starts inherits that variable. After each input the edges QEMU
// took are copied into libFuzzer's extra counters, which libFuzzer reads as
// coverage beside the harness's own: an input that makes QEMU take a new
// edge is kept.
//
// Each edge counts as taken or not, not how often: QEMU's main loop, timers
// and socket reads take some edges a varying number of times whatever the
// input, and hit counts there would keep inputs that reach nothing new.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "result.hpp"

namespace vmemcheck::fuzz {

class QemuEdges {
 public:
  // QEMU's edge i counts into byte i % kMapSize.
  static constexpr uint32_t kMapSize = 1u << 18;

  // Creates the shared map (removed when the last process detaches) and sets
  // VMEMCHECK_EDGE_MAP for the QEMUs started from here on. Error: no shared
  // memory.
  static Result<QemuEdges> share();
  QemuEdges(QemuEdges&& other) noexcept;
  QemuEdges& operator=(QemuEdges&&) = delete;
  ~QemuEdges();

  // Around each input: forget what the QEMUs did in between (idle main
  // loops), then hand what they did for the input to libFuzzer.
  void before_input();
  void after_input();
  // Edges (map bytes) QEMU has taken in any input so far: whether the
  // instrumented QEMU is writing at all.
  size_t edges_seen() const { return edges_seen_; }

 private:
  explicit QemuEdges(uint8_t* map) : map_(map), seen_(kMapSize) {}
  uint8_t* map_;  // the shared map QEMU counts into
  std::vector<uint8_t> seen_;  // the map bytes taken in any input so far
  size_t edges_seen_ = 0;
};

}  // namespace vmemcheck::fuzz
