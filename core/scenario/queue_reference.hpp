// The reference virtqueue (core/oracle/reference_virtqueue.hpp) beside each
// device's queue in the runner: set up, reset and removed with it, kicked
// just before it, and compared just after: chain accepted or faulted, each
// chain's head, request bytes, parts, response buffers and answer, the
// queue's indices, and every byte the reference wrote (responses, used
// elements, used.idx) as the device's memory holds it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "overlay_memory.hpp"
#include "reference_model.hpp"
#include "reference_virtqueue.hpp"
#include "virtqueue.hpp"

namespace vmemcheck::scenario {

class QueueReference {
 public:
  void set_up(const std::string& device, const QueueLayout& layout, bool core_accepted,
              std::vector<std::string>& problems);
  void reset(const std::string& device);
  void reset_all();
  void remove(const std::string& device) { queues_.erase(device); }
  void clear() { queues_.clear(); }

  // Before the device's kick: the reference walks the ring over an overlay
  // of `memory`, answered by a copy of the device's reference model.
  // `device_memory` is the machine's device-memory area, which the kick's
  // own requests may change under the overlay.
  void predict(const std::string& device, GuestMemory& memory, const ReferenceModel& model, uint64_t device_memory_start,
               uint64_t device_memory_size);
  // After it: what differs, one problem each.
  void compare(const std::string& device, const KickResult& kick, const Virtqueue& queue, GuestMemory& memory,
               std::vector<std::string>& problems);

  // Kicks not judged: the ring was read where the kick's own requests had
  // changed device memory.
  uint64_t unjudged_kicks() const { return unjudged_kicks_; }

 private:
  struct Prediction {
    std::unique_ptr<OverlayMemory> overlay;
    ReferenceKick kick;
  };
  std::map<std::string, ReferenceVirtqueue> queues_;
  std::optional<Prediction> prediction_;
  uint64_t unjudged_kicks_ = 0;
};

}  // namespace vmemcheck::scenario
