// A real guest's run on QEMU as a recording, and the scenario it replays as:
// QEMU's virtio_mem_* trace events in order, with the harness's marks put
// between them (a host resize it made, a checkpoint where it read QEMU's
// state). Each request becomes a scenario op carrying QEMU's answer, each
// system reset a "reset", each mark a "resize" or a "checkpoint" line
// (recorded_device_under_test.hpp replays them). Several devices share one
// trace; a system reset traces each device's unplug-all and becomes one "reset".
#pragma once

#include <cstdint>
#include <set>
#include <variant>
#include <vector>

#include "device_config.hpp"
#include "machine.hpp"
#include "mtree.hpp"
#include "scenario.hpp"
#include "virtio_mem_trace.hpp"

namespace vmemcheck::qemu {

struct RecordedResize {
  std::string device;
  uint64_t requested = 0;
};
// What QEMU showed once the guest had converged: QOM's size and
// requested-size, and the device's regions in `info mtree`.
struct RecordedCheckpoint {
  std::string device;
  uint64_t plugged = 0;
  uint64_t requested = 0;
  std::vector<MtreeRegion> regions;
};
// The VM migrated to a QEMU whose devices all have this memslot mode:
// "dynamic" (dynamic-memslots=on) or "static" (off), as a scenario names it.
struct RecordedMigration {
  std::string mode;
};
struct RecordingMark {
  size_t events_before = 0;  // trace events written when the harness made the mark
  std::variant<RecordedResize, RecordedCheckpoint, RecordedMigration> what;
};

struct GuestRecording {
  MachineConfig machine;  // the memory-device area QEMU's maxmem gives
  // QEMU's properties, in realize order, each address as QOM reported it.
  // The trace names no device: a request belongs to the device whose
  // region holds its address; a usable-region change to the device realized,
  // reset or resized (in that order, by the marks) when it was traced.
  std::vector<DeviceConfig> devices;
  std::vector<VirtioMemTraceEvent> events;
  std::vector<RecordingMark> marks;  // in order
};

// What the conversion counted, to show the recording is complete.
struct RecordingCounts {
  size_t requests = 0;
  size_t responses = 0;
  size_t resets = 0;
  size_t resizes = 0;
  size_t checkpoints = 0;
  size_t migrations = 0;
};

// The scenario the recording replays as. Error: the trace is not a complete
// conversation (a request without exactly one response before the next, a
// response to nothing, an answer with no virtio-mem meaning, a request or
// usable-region change that belongs to no device).
Result<scenario::Scenario> to_scenario(const GuestRecording& recording, RecordingCounts& counts);

// The addresses of the blocks QEMU had plugged after the first `count`
// events: what its acknowledged plugs and unplugs left, unplug-alls and
// resets emptied.
std::set<uint64_t> plugged_blocks(const std::vector<VirtioMemTraceEvent>& events, size_t count, uint64_t block_size);

}  // namespace vmemcheck::qemu
