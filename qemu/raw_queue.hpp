// The scenario's own split virtqueue in QEMU's guest memory (the `queue`,
// `poke` and `kick` ops): its rings, descriptors and requests are the bytes
// the scenario poked, so QEMU's virtqueue_pop judges the same chains the
// core's virtqueue does.
//
// A kick hands QEMU the chains the scenario made available one at a time:
// avail.idx is written one step further and the queue notified for each,
// and the used element and the response are read back in the same round
// trip, before a later chain can overwrite a shared response buffer. Where
// the response went is read from the chain as the reference virtqueue walks
// it. Whether QEMU used a chain is told by the used index and NEEDS_RESET
// together: a stale used index left in memory from before a reset is not
// mistaken for an answer. An available index that moved more than the queue
// size is handed over as it is: that is for QEMU to judge.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "qemu_process.hpp"
#include "reference_virtqueue.hpp"
#include "result.hpp"
#include "virtqueue.hpp"
#include "wire.hpp"

namespace vmemcheck::qemu {

// A chain QEMU used: its used element and the response bytes in its buffers.
struct RawAnswer {
  uint16_t head = 0;
  uint32_t used_len = 0;
  bool state_request = false;
  std::optional<Response> response;  // none: the chain's buffers cannot be walked
};

struct RawKick {
  std::vector<RawAnswer> used;
  uint16_t served_past_index = 0;          // chains QEMU served past an index too far ahead
  bool needs_reset = false;                // QEMU set NEEDS_RESET (virtio_error) during the kick
  std::optional<uint16_t> unused_head;     // the chain it was handed then, when handed one at a time
};

class RawQueue {
 public:
  // Guest RAM below the legacy VGA/ROM hole: RAM on QEMU's q35 and on the
  // core's machine alike, and clear of the driver's own queue (1 MiB up).
  static constexpr uint64_t kLowRamEnd = 0xa0000;
  static bool in_low_ram(uint64_t gpa, uint64_t size) { return gpa < kLowRamEnd && size <= kLowRamEnd - gpa; }
  // All three areas in low RAM (sizes from virtio 1.2 §2.7).
  static bool in_low_ram(const QueueLayout& layout);

  // QEMU enabled queue 0 at `layout` (a power-of-two size), notified at
  // `notify_addr`, its status read by `status_read`: indices from 0.
  void set_up(const QueueLayout& layout, uint64_t notify_addr, std::string status_read);
  void disable() { enabled_ = false; }
  bool enabled() const { return enabled_; }

  Result<RawKick> kick(QemuProcess& process);
  // Whether the scenario's avail.idx is more than the queue size ahead of
  // the chains QEMU was handed (DESIGN §6: a device error; QEMU's
  // virtqueue_split_pop does not check it).
  Result<bool> index_too_far_ahead(QemuProcess& process);
  // The first chain the next kick would hand QEMU that QEMU reads otherwise
  // than the spec and the core (qemu_chain_quirks.hpp): why, or nullopt. The
  // chains after one that both refuse are never served, so not looked at.
  Result<std::optional<std::string_view>> read_otherwise(QemuProcess& process);

 private:
  // What a notify did: the used index before and after it, NEEDS_RESET, and
  // the answers to `reads`, which follow it in the same round trip.
  struct Notified {
    uint16_t used_before;
    uint16_t used_after;
    bool needs_reset;
    std::vector<std::string> reads;
  };
  Result<Notified> notify(QemuProcess& process, std::vector<std::string> commands, const std::vector<std::string>& reads);
  struct HandedOver {
    uint16_t head;
    std::optional<RawAnswer> answer;  // none: QEMU needs a reset instead
  };
  // Hands QEMU the next chain and reads back what it did with it.
  Result<HandedOver> hand_over_one(QemuProcess& process);
  // Notifies with avail.idx as the scenario left it: nothing new, or an
  // index more than the queue size ahead, which is QEMU's to judge (its
  // virtqueue_split_pop does not check it: it serves ring entries modulo the size).
  Result<RawKick> notify_as_is(QemuProcess& process, uint16_t target);
  Status write_avail_idx(QemuProcess& process, uint16_t value);
  Result<uint16_t> avail_idx(QemuProcess& process);

  QueueLayout layout_;
  ReferenceVirtqueue shape_;  // the same layout: walks a chain to its buffers
  bool enabled_ = false;
  uint16_t handed_over_ = 0;  // chains made visible to QEMU (its last_avail_idx)
  uint16_t used_ = 0;         // used elements read back (its used idx)
  uint64_t notify_addr_ = 0;
  std::string status_read_;
};

}  // namespace vmemcheck::qemu
