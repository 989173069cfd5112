// The reference virtqueue: a naive walker of the split ring, written again
// from the virtio 1.x spec (§2.7 "Split Virtqueues") and sharing nothing with
// core/device/virtqueue.cpp but the GuestMemory interface, the QueueLayout
// struct and the Response type. The runner walks it beside the device on
// every kick and compares what each did with every chain.
//
// Its rules, each with the clause it comes from (virtio 1.2 numbering), and
// where the spec only forbids the driver something, what QEMU's
// virtqueue_split_pop does (DESIGN §7: where the design is silent, QEMU
// decides):
// - §2.7.6: the available index is free-running; the driver cannot have more
//   than the queue size chains outstanding (QEMU: "Guest moved used index");
// - §2.7.6: a ring entry names a chain head inside the descriptor table;
// - §2.7.5: `next` indexes the table it is in (the indirect table's own
//   len/16 entries inside one); the queue size is the longest chain, so a
//   chain visiting more descriptors of a table than it has, or than the
//   queue size, loops or is too long;
// - §2.7.5.3.1: no NEXT together with INDIRECT, no INDIRECT inside an
//   indirect table; §2.7.5.3: the table's len is a multiple of 16 (and not
//   0: QEMU "Invalid size for indirect buffer table");
// - §2.7.5.3.2: zero or more direct descriptors followed by a single
//   indirect one is a valid chain the device MUST handle;
// - §2.7.4.2: device-writable descriptors come after device-readable ones;
// - §2.7.5.1: a chain is at most 2^32 bytes long in total;
// - QEMU's virtqueue_map_desc: no zero-length buffer, every buffer (and
//   indirect table) in guest memory.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "backend.hpp"
#include "virtqueue.hpp"
#include "wire.hpp"

namespace vmemcheck {

// Why a chain (or the ring itself) is not acceptable: the device then needs
// a reset (DESIGN §6).
enum class ChainFault : uint8_t {
  RingOutsideMemory,
  AvailIndexTooFarAhead,
  HeadOutOfRange,
  DescriptorOutsideMemory,
  NextOutOfRange,
  Loop,
  LongerThanQueue,
  IndirectWithNext,
  NestedIndirect,
  IndirectTableLength,
  IndirectTableOutsideMemory,
  ZeroLengthBuffer,
  BufferOutsideMemory,
  ReadableAfterWritable,
  LongerThan4GiB,
  RequestOutsideMemory,
  ResponseOutsideMemory,
  UsedRingOutsideMemory,
};
std::string_view name(ChainFault fault);

struct ReferenceBuffer {
  uint64_t gpa = 0;
  uint32_t len = 0;
  friend bool operator==(const ReferenceBuffer&, const ReferenceBuffer&) = default;
};

// One chain as the reference walked it, and what became of it.
struct ReferenceChain {
  uint16_t head = 0;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
  std::vector<uint8_t> request;            // the first 24 readable bytes; empty when fewer
  std::vector<ReferenceBuffer> readable;
  std::vector<ReferenceBuffer> writable;   // where the response goes
  std::optional<Response> response;        // none: a protocol violation, not answered
};

struct ReferenceKick {
  std::vector<ReferenceChain> chains;
  std::optional<ChainFault> fault;  // the chain (or ring) that put the device in its error state
};

// The device behind the queue: whether it still serves and what it answers
// to a chain (the reference model, in the runner).
class ChainAnswerer {
 public:
  virtual ~ChainAnswerer() = default;
  virtual bool needs_reset() const = 0;
  virtual std::optional<Response> answer(std::span<const uint8_t> request, uint64_t readable_bytes,
                                         uint64_t writable_bytes) = 0;
};

class ReferenceVirtqueue {
 public:
  // §4.1.4.3 / §2.7: a power-of-two size up to the device's maximum; the
  // descriptor table 16-byte, the available ring 2-byte and the used ring
  // 4-byte aligned (§2.7 "Alignment"); no area past the end of the address
  // space. False: refused, and the queue stays disabled.
  bool set_up(const QueueLayout& layout);
  void reset() { enabled_ = false; }
  bool enabled() const { return enabled_; }
  uint16_t last_avail() const { return last_avail_; }
  uint16_t used_idx() const { return used_idx_; }
  // Carries on from the device's indices after a kick it could not judge.
  void resume(uint16_t last_avail, uint16_t used_idx) {
    last_avail_ = last_avail;
    used_idx_ = used_idx;
  }

  // The device is notified: every available chain is walked and answered,
  // in ring order, until the ring is empty, a chain faults, or the device
  // stops serving.
  ReferenceKick kick(GuestMemory& memory, ChainAnswerer& device);
  // The chain at `head` as the spec reads it, without serving it: its parts,
  // buffers and request, or why it is malformed. Where a real device's
  // answer to it is to be read back (qemu/raw_queue.hpp).
  std::variant<ReferenceChain, ChainFault> chain_at(GuestMemory& memory, uint16_t head) const;

 private:
  std::optional<ChainFault> next_head(GuestMemory& memory, std::optional<uint16_t>& head);
  std::optional<ChainFault> walk(GuestMemory& memory, ReferenceChain& chain) const;
  std::optional<ChainFault> publish(GuestMemory& memory, const ReferenceChain& chain);

  QueueLayout layout_;
  bool enabled_ = false;
  uint16_t last_avail_ = 0;
  uint16_t used_idx_ = 0;
};

}  // namespace vmemcheck
