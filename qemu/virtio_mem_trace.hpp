// QEMU's virtio_mem_* trace events (hw/virtio/trace-events, the "log" trace
// backend of Debian's build, `-trace 'virtio_mem_*',file=F`), read into
// values: what a real guest's driver asked and what QEMU answered, in order.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "result.hpp"

namespace vmemcheck::qemu {

struct VirtioMemTraceEvent {
  enum class Kind : uint8_t {
    PlugRequest,       // virtio_mem_plug_request addr= nb_blocks=
    UnplugRequest,     // virtio_mem_unplug_request addr= nb_blocks=
    StateRequest,      // virtio_mem_state_request addr= nb_blocks=
    UnplugAllRequest,  // virtio_mem_unplug_all_request
    StateResponse,     // virtio_mem_state_response state=
    Response,          // virtio_mem_send_response type=
    UnpluggedAll,      // virtio_mem_unplugged_all: a request's, or a system reset's
    ResizedUsable,     // virtio_mem_resized_usable_region old_size= new_size=
  };
  Kind kind = Kind::Response;
  uint64_t addr = 0;
  uint16_t nb_blocks = 0;
  uint16_t value = 0;  // a response's type, a state response's state
  uint64_t size = 0;   // the usable region's new size
};

// Every line of the trace file; lines may carry the log backend's
// "PID@SECONDS.MICROS:" prefix. Error: a virtio_mem_ event this reader does
// not know, or a field it cannot read (a recording is never silently short).
Result<std::vector<VirtioMemTraceEvent>> parse_virtio_mem_trace(std::string_view text);

}  // namespace vmemcheck::qemu
