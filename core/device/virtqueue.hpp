// The split virtqueue (virtio 1.x, "Split Virtqueues") of a virtio-mem
// device, over the GuestMemory interface: descriptor table, available and
// used rings, indirect descriptor tables. The device side only: it pops
// chains the driver made available and pushes used elements.
//
// Every fault in what the driver wrote (DESIGN §6: loops, out-of-range
// indices or addresses, wrong direction, bad ring indices) is returned as an
// Error naming the offending values; service_queue() then puts the device in
// its error state. Nothing here touches memory except through GuestMemory,
// and every buffer is checked with GuestMemory::accessible() before use.
//
// Rules we enforce beyond "do not crash", with the spec's reason:
// - a chain has at most `size` descriptors (2.7.5: "MUST NOT create a
//   descriptor chain longer than the Queue Size"), in an indirect table too,
//   and no more than the table holds, which also catches loops;
// - device-writable descriptors come after all device-readable ones (2.7.4.2);
// - an indirect descriptor ends its chain: no NEXT with INDIRECT
//   (2.7.5.3.1), no nested tables, table length a non-zero multiple of 16;
//   direct descriptors before it are valid (2.7.5.3.2);
// - zero-length buffers are refused (as QEMU's virtqueue_map_desc does);
// - the chain is at most 2^32 bytes in total (2.7.5.1): "oversized";
// - each buffer lies in one memory region (boot RAM or one memslot).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend.hpp"
#include "result.hpp"
#include "wire.hpp"

namespace vmemcheck {

class VirtioMemDevice;

inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;
inline constexpr size_t kDescriptorSize = 16;

// struct virtq_desc: le64 addr; le32 len; le16 flags; le16 next.
struct Descriptor {
  uint64_t addr = 0;
  uint32_t len = 0;
  uint16_t flags = 0;
  uint16_t next = 0;
  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};
std::array<uint8_t, kDescriptorSize> encode_descriptor(const Descriptor& descriptor);
Descriptor decode_descriptor(std::span<const uint8_t, kDescriptorSize> bytes);

// Where the driver put the three areas (queue_desc, queue_driver,
// queue_device) and how many entries the queue has.
struct QueueLayout {
  uint16_t size = kQueueSize;
  uint64_t desc = 0;   // size * 16 bytes, 16-byte aligned
  uint64_t avail = 0;  // le16 flags; le16 idx; le16 ring[size]; le16 used_event; 2-byte aligned
  uint64_t used = 0;   // le16 flags; le16 idx; {le32 id; le32 len}[size]; le16 avail_event; 4-byte aligned
  friend bool operator==(const QueueLayout&, const QueueLayout&) = default;
};
// Offsets inside the rings, for drivers (tests, the fuzz decoder).
inline constexpr uint64_t avail_idx_offset() { return 2; }
inline constexpr uint64_t avail_ring_offset(uint16_t slot) { return 4 + 2 * uint64_t{slot}; }
inline constexpr uint64_t used_idx_offset() { return 2; }
inline constexpr uint64_t used_ring_offset(uint16_t slot) { return 4 + 8 * uint64_t{slot}; }

struct Segment {
  uint64_t gpa = 0;
  uint32_t len = 0;
};

// One chain taken off the available ring.
struct Chain {
  uint16_t head = 0;
  std::vector<Segment> readable;
  std::vector<Segment> writable;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
};

class Virtqueue {
 public:
  explicit Virtqueue(GuestMemory& memory) : memory_(memory) {}

  // The driver sets the queue up and enables it. Refuses (queue stays
  // disabled, even if it was enabled before) a size that is not a power of two in 1..kQueueSize, misaligned
  // areas, or areas that wrap around the address space.
  Status configure(const QueueLayout& layout);
  // Virtio reset: disabled until configured again.
  void reset();
  bool enabled() const { return enabled_; }
  const QueueLayout& layout() const { return layout_; }
  uint16_t last_avail() const { return last_avail_; }
  uint16_t used_idx() const { return used_idx_; }

  // The next available chain; nothing when the ring is empty or the queue is
  // disabled; an Error for a chain-level fault (the chain is not consumed).
  Result<std::optional<Chain>> pop();
  // The first bytes of the chain's device-readable part (up to out.size()).
  // False when guest memory no longer backs them.
  bool read(const Chain& chain, std::span<uint8_t> out);
  // Writes `bytes` into the chain's device-writable part (which must hold
  // them) and publishes the used element.
  Status push(const Chain& chain, std::span<const uint8_t> bytes);

 private:
  Result<uint16_t> read_u16(uint64_t gpa, const char* what);
  Result<Descriptor> read_descriptor(uint64_t table, uint64_t index, bool indirect);

  GuestMemory& memory_;
  QueueLayout layout_;
  bool enabled_ = false;
  uint16_t last_avail_ = 0;
  uint16_t used_idx_ = 0;
};

// What became of one chain during a kick.
struct ServicedChain {
  uint16_t head = 0;
  DecodedRequest request;  // zero when the readable part is shorter than a request
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
  std::optional<Response> response;  // none: protocol violation, not answered
  std::vector<Segment> writable;     // where the response was written
};

struct KickResult {
  std::vector<ServicedChain> chains;
  // A chain-level fault that put the device in its error state.
  std::optional<std::string> fault;
};

// The device's queue handler: pops chains and answers them through
// VirtioMemDevice::handle_raw until the ring is empty or the device needs a
// reset. A chain-level fault calls device.enter_error_state(reason).
KickResult service_queue(Virtqueue& queue, VirtioMemDevice& device);

}  // namespace vmemcheck
