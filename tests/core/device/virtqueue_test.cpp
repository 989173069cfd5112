#include "virtqueue.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "device.hpp"
#include "guest_ram.hpp"
#include "machine.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {
namespace {

// Driver-side layout in boot RAM: a queue of 8, then request and response buffers.
constexpr uint16_t kSize = 8;
constexpr uint64_t kDesc = 0x0;
constexpr uint64_t kAvail = 0x1000;
constexpr uint64_t kUsed = 0x2000;
constexpr uint64_t kRequests = 0x3000;
constexpr uint64_t kResponses = 0x4000;
constexpr uint64_t kTable = 0x5000;
constexpr uint64_t kRamSize = 1 * MiB;

// A machine with one 4 GiB device (1 GiB requested), its queue set up, and
// helpers that play the driver.
struct Rig {
  explicit Rig(MemslotMode mode = MemslotMode::Static) {
    DeviceConfig config;
    config.region_size = 4 * GiB;
    config.requested_size = GiB;
    config.mode = mode;
    auto added = machine.add_device(config);
    EXPECT_TRUE(added);
    device = *added;
    EXPECT_TRUE(queue.configure({kSize, kDesc, kAvail, kUsed}));
  }
  void desc(uint64_t table, uint16_t index, Descriptor d) {
    ASSERT_TRUE(ram.write(table + index * kDescriptorSize, encode_descriptor(d)));
  }
  void desc(uint16_t index, Descriptor d) { desc(kDesc, index, d); }
  void put_request(uint64_t gpa, Request r) { ASSERT_TRUE(ram.write(gpa, encode_request(r))); }
  void write_u16(uint64_t gpa, uint16_t value) {
    const std::array<uint8_t, 2> bytes{static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8)};
    ASSERT_TRUE(ram.write(gpa, bytes));
  }
  uint32_t read_u32(uint64_t gpa) {
    std::array<uint8_t, 4> b{};
    EXPECT_TRUE(ram.read(gpa, b));
    return b[0] | b[1] << 8 | b[2] << 16 | uint32_t{b[3]} << 24;
  }
  void offer(uint16_t head) {
    write_u16(kAvail + avail_ring_offset(avail_idx % kSize), head);
    write_u16(kAvail + avail_idx_offset(), ++avail_idx);
  }
  // The usual chain: descriptor 2i holds the request, 2i+1 the response.
  void offer_request(uint16_t i, Request r) {
    put_request(kRequests + 32 * i, r);
    desc(2 * i, {kRequests + 32 * i, kRequestSize, kDescFlagNext, static_cast<uint16_t>(2 * i + 1)});
    desc(2 * i + 1, {kResponses + 16 * i, kResponseSize, kDescFlagWrite, 0});
    offer(2 * i);
  }
  // One chain at head 0: the request in kRequests, the response at `response_gpa`.
  void offer_answered_at(Request r, uint64_t response_gpa) {
    put_request(kRequests, r);
    desc(0, {kRequests, kRequestSize, kDescFlagNext, 1});
    desc(1, {response_gpa, kResponseSize, kDescFlagWrite, 0});
    offer(0);
  }
  std::optional<Response> response(uint16_t i) {
    std::array<uint8_t, kResponseSize> bytes{};
    EXPECT_TRUE(ram.read(kResponses + 16 * i, bytes));
    return decode_response(bytes);
  }
  // Kicks and expects a chain-level fault with exactly this reason.
  void expect_fault(const std::string& reason) {
    const KickResult kick = service_queue(queue, *device);
    ASSERT_TRUE(kick.fault) << "no fault";
    EXPECT_EQ(*kick.fault, reason);
    EXPECT_TRUE(device->needs_reset());
    EXPECT_EQ(device->error_reason(), reason);
    EXPECT_EQ(read_u32(kUsed) >> 16, 0u) << "a faulty chain must not be answered";
  }

  ShadowKvm kvm;
  SparseHostMemory host;
  Machine machine{{}, kvm, host};
  GuestRam ram{0, kRamSize};
  GuestAddressSpace space{ram, machine.guest_memory()};
  Virtqueue queue{space};
  VirtioMemDevice* device = nullptr;
  uint16_t avail_idx = 0;
};

TEST(Virtqueue, DescriptorLayoutIsLittleEndian) {
  const auto bytes = encode_descriptor({0x0102030405060708, 0x0a0b0c0d, 0x0003, 0x0405});
  const std::array<uint8_t, kDescriptorSize> expected{8, 7, 6, 5, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a, 3, 0, 5, 4};
  EXPECT_EQ(bytes, expected);
  EXPECT_EQ(decode_descriptor(bytes), (Descriptor{0x0102030405060708, 0x0a0b0c0d, 3, 0x0405}));
}

TEST(Virtqueue, PlugIsAnsweredThroughTheUsedRing) {
  Rig r;
  r.offer_request(0, {RequestType::Plug, r.device->addr(), 1});
  const KickResult kick = service_queue(r.queue, *r.device);
  EXPECT_FALSE(kick.fault);
  ASSERT_EQ(kick.chains.size(), 1u);
  EXPECT_EQ(kick.chains[0].response, Response{ResponseType::Ack});
  EXPECT_EQ(kick.chains[0].readable_bytes, kRequestSize);
  EXPECT_EQ(kick.chains[0].writable_bytes, kResponseSize);
  EXPECT_EQ(r.response(0), Response{ResponseType::Ack});
  EXPECT_EQ(r.read_u32(kUsed) >> 16, 1u);                      // used idx
  EXPECT_EQ(r.read_u32(kUsed + used_ring_offset(0)), 0u);      // id: the head
  EXPECT_EQ(r.read_u32(kUsed + used_ring_offset(0) + 4), 10u);  // len: bytes written
  EXPECT_EQ(r.device->plugged_size(), 2 * MiB);
}

TEST(Virtqueue, OneKickAnswersEveryAvailableChainInOrder) {
  Rig r;
  const uint64_t a = r.device->addr();
  r.offer_request(0, {RequestType::Plug, a, 2});
  r.offer_request(1, {RequestType::State, a, 4});
  r.offer_request(2, {RequestType::Plug, a + 2 * GiB, 1});  // outside the usable region
  r.offer_request(3, {RequestType::Plug, a, 600});           // more than requested
  const KickResult kick = service_queue(r.queue, *r.device);
  ASSERT_EQ(kick.chains.size(), 4u);
  EXPECT_EQ(r.response(0), Response{ResponseType::Ack});
  EXPECT_EQ(r.response(1), (Response{ResponseType::Ack, BlockState::Mixed}));
  EXPECT_EQ(r.response(2), Response{ResponseType::Error});
  EXPECT_EQ(r.response(3), Response{ResponseType::Nack});
  EXPECT_EQ(r.queue.used_idx(), 4);
  EXPECT_EQ(r.queue.last_avail(), 4);
  // Nothing new: a second kick does nothing.
  EXPECT_TRUE(service_queue(r.queue, *r.device).chains.empty());
}

TEST(Virtqueue, RingIndicesWrapAround) {
  Rig r;
  for (int i = 0; i < 3 * kSize; ++i) {
    r.offer_request(0, {RequestType::State, r.device->addr(), 1});
    ASSERT_EQ(service_queue(r.queue, *r.device).chains.size(), 1u) << "round " << i;
  }
  EXPECT_EQ(r.queue.used_idx(), 3 * kSize);
  EXPECT_EQ(r.read_u32(kUsed) >> 16, 3u * kSize);
}

// Serves `total` STATE chains in kicks of 1..kSize chains (the batch size
// varies, so the ring positions drift), checking each kick: a driver that
// keeps offering runs the free-running indices past 2^16.
void serve(Rig& r, uint32_t total) {
  for (uint16_t i = 0; i < kSize; ++i) {
    r.put_request(kRequests + 32 * i, {RequestType::State, r.device->addr(), 1});
    r.desc(2 * i, {kRequests + 32 * i, kRequestSize, kDescFlagNext, static_cast<uint16_t>(2 * i + 1)});
    r.desc(2 * i + 1, {kResponses + 16 * i, kResponseSize, kDescFlagWrite, 0});
  }
  for (uint32_t served = 0, round = 0; served < total; ++round) {
    const uint32_t batch = std::min<uint32_t>(1 + round % kSize, total - served);
    for (uint32_t j = 0; j < batch; ++j) r.offer(static_cast<uint16_t>(2 * ((served + j) % (kSize / 2))));
    const KickResult kick = service_queue(r.queue, *r.device);
    ASSERT_FALSE(kick.fault) << *kick.fault << " after " << served << " chains";
    ASSERT_EQ(kick.chains.size(), batch) << "after " << served << " chains";
    served += batch;
  }
}

// virtio 1.2 §2.7.6, §2.7.8: the available and the used index are free-running
// u16s; after 65535 comes 0, and the device goes on serving. Each used element
// lands at idx % size and names its head; the used index in the ring wraps too.
TEST(Virtqueue, IndicesRunPast65535) {
  Rig r;
  constexpr uint32_t kTotal = 65536 + 2 * kSize + 3;  // 19 past the wrap, not at a ring boundary
  serve(r, kTotal);
  EXPECT_EQ(r.queue.last_avail(), kTotal % 65536);
  EXPECT_EQ(r.queue.used_idx(), kTotal % 65536);
  EXPECT_EQ(r.read_u32(kUsed) >> 16, kTotal % 65536);
  const uint32_t last = kTotal - 1;
  EXPECT_EQ(r.read_u32(kUsed + used_ring_offset(last % kSize)), 2 * (last % (kSize / 2)));
  EXPECT_EQ(r.read_u32(kUsed + used_ring_offset(last % kSize) + 4), kResponseSize);
  // Nothing new after the wrap: the indices are equal again, no chain is taken.
  EXPECT_TRUE(service_queue(r.queue, *r.device).chains.empty());
}

// The distance from the device's index to the driver's is taken modulo 2^16:
// across the wrap, more than the queue size ahead is still too far, and an
// index that moves backwards is 65535 (or so) entries ahead.
TEST(Virtqueue, AvailableIndexTooFarAheadAcrossTheWrap) {
  for (const uint16_t ahead : {uint16_t{kSize + 1}, uint16_t{65535}, uint16_t{65536 - kSize}}) {
    Rig r;
    serve(r, 65536 - 4);  // the device's index is 65532
    const uint16_t avail = static_cast<uint16_t>(65532 + ahead);
    r.write_u16(kAvail + avail_idx_offset(), avail);
    const KickResult kick = service_queue(r.queue, *r.device);
    ASSERT_TRUE(kick.fault) << "available index " << avail;
    EXPECT_EQ(*kick.fault, fmt::format("available index {} is {} entries ahead of the device's 65532 (queue size 8)",
                                       avail, ahead));
    EXPECT_TRUE(kick.chains.empty());
    EXPECT_TRUE(r.device->needs_reset());
    EXPECT_EQ(r.read_u32(kUsed) >> 16, 65532u) << "no chain may be answered";
  }
}

TEST(Virtqueue, RequestAndResponseMaySpanSeveralBuffers) {
  Rig r;
  r.put_request(kRequests, {RequestType::Plug, r.device->addr(), 1});
  r.desc(0, {kRequests, 12, kDescFlagNext, 5});
  r.desc(5, {kRequests + 12, 12, kDescFlagNext, 3});
  r.desc(3, {kResponses, 4, kDescFlagWrite | kDescFlagNext, 7});
  r.desc(7, {kResponses + 4, 60, kDescFlagWrite, 0});
  r.offer(0);
  const KickResult kick = service_queue(r.queue, *r.device);
  ASSERT_EQ(kick.chains.size(), 1u);
  EXPECT_EQ(kick.chains[0].writable_bytes, 64u);
  EXPECT_EQ(r.response(0), Response{ResponseType::Ack});
}

TEST(Virtqueue, IndirectTable) {
  Rig r;
  r.put_request(kRequests, {RequestType::Plug, r.device->addr(), 3});
  r.desc(kTable, 0, {kRequests, kRequestSize, kDescFlagNext, 1});
  r.desc(kTable, 1, {kResponses, kResponseSize, kDescFlagWrite, 0});
  r.desc(4, {kTable, 2 * kDescriptorSize, kDescFlagIndirect, 0});
  r.offer(4);
  const KickResult kick = service_queue(r.queue, *r.device);
  ASSERT_EQ(kick.chains.size(), 1u);
  EXPECT_EQ(kick.chains[0].head, 4);
  EXPECT_EQ(r.response(0), Response{ResponseType::Ack});
  EXPECT_EQ(r.device->plugged_size(), 6 * MiB);
}

// 2.7.5.3.2: "The device MUST handle the case of zero or more normal chained
// descriptors followed by a single descriptor with flags&VIRTQ_DESC_F_INDIRECT".
TEST(Virtqueue, DirectDescriptorsBeforeAnIndirectOne) {
  Rig r;
  r.put_request(kRequests, {RequestType::Plug, r.device->addr(), 1});
  r.desc(0, {kRequests, kRequestSize, kDescFlagNext, 1});
  r.desc(1, {kTable, kDescriptorSize, kDescFlagIndirect, 0});
  r.desc(kTable, 0, {kResponses, kResponseSize, kDescFlagWrite, 0});
  r.offer(0);
  const KickResult kick = service_queue(r.queue, *r.device);
  EXPECT_FALSE(kick.fault);
  EXPECT_EQ(r.response(0), Response{ResponseType::Ack});
}

// The spec bounds the chain, not the table: a table of more entries than the
// queue holds a valid short chain (QEMU serves it too).
TEST(Virtqueue, IndirectTableLargerThanTheQueue) {
  Rig r;
  r.put_request(kRequests, {RequestType::State, r.device->addr(), 1});
  r.desc(kTable, 0, {kRequests, kRequestSize, kDescFlagNext, 1});
  r.desc(kTable, 1, {kResponses, kResponseSize, kDescFlagWrite, 0});
  r.desc(0, {kTable, 4 * kSize * kDescriptorSize, kDescFlagIndirect, 0});
  r.offer(0);
  const KickResult kick = service_queue(r.queue, *r.device);
  EXPECT_FALSE(kick.fault);
  EXPECT_EQ(r.response(0), (Response{ResponseType::Ack, BlockState::Unplugged}));
}

TEST(Virtqueue, ShortRequestIsAProtocolViolation) {
  Rig r;
  r.put_request(kRequests, {RequestType::Plug, r.device->addr(), 1});
  r.desc(0, {kRequests, 16, kDescFlagNext, 1});
  r.desc(1, {kResponses, kResponseSize, kDescFlagWrite, 0});
  r.offer(0);
  const KickResult kick = service_queue(r.queue, *r.device);
  EXPECT_FALSE(kick.fault);  // the device's own check, not the transport's
  ASSERT_EQ(kick.chains.size(), 1u);
  EXPECT_FALSE(kick.chains[0].response);
  EXPECT_EQ(r.device->error_reason(), "request too short: 16 device-readable bytes, need 24");
  EXPECT_EQ(r.device->plugged_size(), 0u);
}

TEST(Virtqueue, ShortResponseBufferAndUnknownTypeAreProtocolViolations) {
  Rig r;
  r.put_request(kRequests, {RequestType::Plug, r.device->addr(), 1});
  r.desc(0, {kRequests, kRequestSize, kDescFlagNext, 1});
  r.desc(1, {kResponses, 9, kDescFlagWrite, 0});
  r.offer(0);
  (void)service_queue(r.queue, *r.device);
  EXPECT_EQ(r.device->error_reason(), "response buffer too short: 9 device-writable bytes, need 10");

  Rig u;
  u.offer_request(0, {});
  ASSERT_TRUE(u.ram.write(kRequests, std::array<uint8_t, 2>{7, 0}));  // type 7
  (void)service_queue(u.queue, *u.device);
  EXPECT_EQ(u.device->error_reason(), "unknown request type 7");
}

TEST(Virtqueue, DescriptorLoop) {
  Rig r;
  r.put_request(kRequests, {RequestType::State, r.device->addr(), 1});
  r.desc(0, {kRequests, kRequestSize, kDescFlagNext, 1});
  r.desc(1, {kRequests, kRequestSize, kDescFlagNext, 0});
  r.offer(0);
  r.expect_fault("descriptor loop in the chain at head 0: more than 8 descriptors");
}

TEST(Virtqueue, IndirectLoop) {
  Rig r;
  r.desc(kTable, 0, {kRequests, kRequestSize, kDescFlagNext, 0});
  r.desc(0, {kTable, kDescriptorSize, kDescFlagIndirect, 0});
  r.offer(0);
  r.expect_fault("descriptor loop in the chain at head 0: more than 1 indirect descriptors");
}

TEST(Virtqueue, HeadOutOfRange) {
  Rig r;
  r.offer(8);
  r.expect_fault("chain head 8 is out of range (queue size 8)");
}

TEST(Virtqueue, NextOutOfRange) {
  Rig r;
  r.desc(0, {kRequests, kRequestSize, kDescFlagNext, 200});
  r.offer(0);
  r.expect_fault("descriptor 0 chains to 200, out of range (table of 8)");
}

TEST(Virtqueue, AvailableIndexTooFarAhead) {
  Rig r;
  r.write_u16(kAvail + avail_idx_offset(), 9);
  r.expect_fault("available index 9 is 9 entries ahead of the device's 0 (queue size 8)");
}

TEST(Virtqueue, ReadableAfterWritable) {
  Rig r;
  r.desc(0, {kResponses, kResponseSize, kDescFlagWrite | kDescFlagNext, 1});
  r.desc(1, {kRequests, kRequestSize, 0, 0});
  r.offer(0);
  r.expect_fault("device-readable descriptor 1 follows a device-writable one (head 0)");
}

TEST(Virtqueue, BufferOutsideGuestRam) {
  Rig r;
  r.desc(0, {kRamSize - 8, kRequestSize, 0, 0});
  r.offer(0);
  r.expect_fault("buffer of descriptor 0 at [0xffff8, +0x18) is outside guest RAM");
  Rig w;
  w.desc(0, {~uint64_t{0} - 4, kRequestSize, 0, 0});  // wraps
  w.offer(0);
  w.expect_fault("buffer of descriptor 0 at [0xfffffffffffffffb, +0x18) is outside guest RAM");
}

TEST(Virtqueue, ZeroLengthBuffer) {
  Rig r;
  r.desc(0, {kRequests, 0, 0, 0});
  r.offer(0);
  r.expect_fault("descriptor 0 has a zero-length buffer");
}

// Each part of a chain holds at most 0xffffffff bytes (used.len is a le32).
// 2.7.5.1: a chain of 2^32 bytes in total is the longest a driver may offer.
TEST(Virtqueue, OversizedChain) {
  Rig r;
  // Guest RAM large enough that the buffers themselves are valid.
  GuestRam big(0, 8 * GiB);
  GuestAddressSpace space(big, r.machine.guest_memory());
  Virtqueue queue(space);
  ASSERT_TRUE(queue.configure({kSize, kDesc, kAvail, kUsed}));
  // Head 0: 2^32 bytes in all, answered.
  ASSERT_TRUE(big.write(kRequests, encode_request({RequestType::State, r.device->addr(), 1})));
  ASSERT_TRUE(big.write(kDesc, encode_descriptor({kRequests, 0xffffffff - 9, kDescFlagNext, 1})));
  ASSERT_TRUE(big.write(kDesc + 16, encode_descriptor({GiB, 10, kDescFlagWrite, 0})));
  // Head 2: one byte more.
  ASSERT_TRUE(big.write(kDesc + 32, encode_descriptor({0, 0xffffffff, kDescFlagNext, 3})));
  ASSERT_TRUE(big.write(kDesc + 48, encode_descriptor({0, 2, 0, 0})));
  ASSERT_TRUE(big.write(kAvail + avail_ring_offset(1), std::array<uint8_t, 2>{2, 0}));
  ASSERT_TRUE(big.write(kAvail + avail_idx_offset(), std::array<uint8_t, 2>{2, 0}));
  const KickResult kick = service_queue(queue, *r.device);
  ASSERT_EQ(kick.chains.size(), 1u);
  EXPECT_EQ(kick.chains[0].readable_bytes, 0xffffffffu - 9);
  ASSERT_TRUE(kick.fault);
  EXPECT_EQ(*kick.fault, "chain at head 2 is oversized: 4294967297 readable and 0 writable bytes, more than "
                         "0x100000000");
}

TEST(Virtqueue, IndirectRules) {
  Rig nested;
  nested.desc(kTable, 0, {kTable, kDescriptorSize, kDescFlagIndirect, 0});
  nested.desc(0, {kTable, kDescriptorSize, kDescFlagIndirect, 0});
  nested.offer(0);
  nested.expect_fault("nested indirect table in indirect descriptor 0");

  Rig with_next;
  with_next.desc(0, {kTable, kDescriptorSize, kDescFlagIndirect | kDescFlagNext, 1});
  with_next.offer(0);
  with_next.expect_fault("indirect descriptor 0 has NEXT set (head 0)");

  Rig bad_length;
  bad_length.desc(0, {kTable, 24, kDescFlagIndirect, 0});
  bad_length.offer(0);
  bad_length.expect_fault("indirect table of descriptor 0 has length 24: not a non-zero multiple of 16");
  // An empty table holds no chain: its own fault, not a loop found in zero entries.
  Rig empty;
  empty.desc(0, {kTable, 0, kDescFlagIndirect, 0});
  empty.offer(0);
  empty.expect_fault("indirect table of descriptor 0 has length 0: not a non-zero multiple of 16");

  Rig outside;
  outside.desc(0, {kRamSize - 16, 32, kDescFlagIndirect, 0});
  outside.offer(0);
  outside.expect_fault("indirect table of descriptor 0 at [0xffff0, +0x20) is outside guest RAM");
}

TEST(Virtqueue, RingsOutsideGuestRam) {
  Rig r;
  ASSERT_TRUE(r.queue.configure({kSize, kDesc, kRamSize, kUsed}));
  r.expect_fault("available ring index at GPA 0x100002 is outside guest RAM");

  Rig u;
  ASSERT_TRUE(u.queue.configure({kSize, kDesc, kAvail, kRamSize - 8}));
  u.offer_request(0, {RequestType::State, u.device->addr(), 1});
  const KickResult kick = service_queue(u.queue, *u.device);
  ASSERT_TRUE(kick.fault);
  EXPECT_EQ(*kick.fault, "used ring entry at GPA 0xffffc is outside guest RAM");

  // The available ring's index in RAM, its first entry past the end.
  Rig e;
  ASSERT_TRUE(e.queue.configure({kSize, kDesc, kRamSize - 4, kUsed}));
  e.write_u16(kRamSize - 4 + avail_idx_offset(), 1);
  e.expect_fault("available ring entry at GPA 0x100000 is outside guest RAM");

  Rig d;
  ASSERT_TRUE(d.queue.configure({kSize, kRamSize, kAvail, kUsed}));
  d.offer(0);
  d.expect_fault("descriptor 0 at GPA 0x100000 is outside guest RAM");

  // A used ring just below device memory: its entries in a plugged block,
  // its index in the hole below the device.
  Rig i;
  const uint64_t a = i.device->addr();
  i.offer_request(0, {RequestType::Plug, a, 1});
  ASSERT_EQ(service_queue(i.queue, *i.device).chains.size(), 1u);
  ASSERT_TRUE(i.queue.configure({kSize, kDesc, kAvail, a - 4}));
  i.offer_request(1, {RequestType::State, a, 1});
  const KickResult unpublished = service_queue(i.queue, *i.device);
  ASSERT_TRUE(unpublished.fault);
  EXPECT_EQ(*unpublished.fault, fmt::format("used ring index at GPA {:#x} is outside guest RAM", a - 2));
}

TEST(Virtqueue, ErrorStateStopsProcessingUntilReset) {
  Rig r;
  r.offer(8);
  r.offer_request(0, {RequestType::Plug, r.device->addr(), 1});
  r.expect_fault("chain head 8 is out of range (queue size 8)");
  EXPECT_TRUE(service_queue(r.queue, *r.device).chains.empty());
  EXPECT_EQ(r.device->plugged_size(), 0u);
  // The driver resets the device and sets the queue up again.
  r.device->virtio_reset();
  r.queue.reset();
  EXPECT_FALSE(r.queue.enabled());
  ASSERT_TRUE(r.queue.configure({kSize, kDesc, kAvail, kUsed}));
  r.avail_idx = 0;
  r.offer_request(0, {RequestType::Plug, r.device->addr(), 1});
  EXPECT_EQ(service_queue(r.queue, *r.device).chains.size(), 1u);
  EXPECT_EQ(r.device->plugged_size(), 2 * MiB);
}

TEST(Virtqueue, ConfigureRefusesBadLayouts) {
  Rig r;
  const auto refused = [&](QueueLayout layout) {
    const Status status = r.queue.configure(layout);
    return status ? std::string("accepted") : status.error().message;
  };
  EXPECT_EQ(refused({0, 0, 0, 0}), "queue size 0 is not a power of two within 1..128");
  EXPECT_EQ(refused({6, 0, 0, 0}), "queue size 6 is not a power of two within 1..128");
  EXPECT_EQ(refused({256, 0, 0, 0}), "queue size 256 is not a power of two within 1..128");
  EXPECT_EQ(refused({8, 8, 0, 0}), "descriptor table at 0x8 is not 16-byte aligned");
  EXPECT_EQ(refused({8, 0, 1, 0}), "available ring at 0x1 is not 2-byte aligned");
  EXPECT_EQ(refused({8, 0, 0, 2}), "used ring at 0x2 is not 4-byte aligned");
  EXPECT_EQ(refused({8, 0, 0, ~uint64_t{3}}), "a queue area wraps around the end of the address space");
  EXPECT_FALSE(r.queue.enabled());
  // A disabled queue is not processed.
  r.offer_request(0, {RequestType::Plug, r.device->addr(), 1});
  EXPECT_TRUE(service_queue(r.queue, *r.device).chains.empty());
}

// The edges configure() accepts: sizes 1 and kQueueSize; a queue area may
// end at the last byte of the address space but not reach past it (its end
// would not be an address).
TEST(Virtqueue, ConfigureAcceptsTheEdges) {
  Rig r;
  EXPECT_TRUE(r.queue.configure({1, kDesc, kAvail, kUsed}));
  EXPECT_TRUE(r.queue.configure({kQueueSize, kDesc, kAvail, kUsed}));
  const uint64_t top = ~uint64_t{0};
  const auto area_reaches_top = [&](QueueLayout layout) {
    const Status status = r.queue.configure(layout);
    return !status && status.error().message == "a queue area wraps around the end of the address space";
  };
  EXPECT_TRUE(area_reaches_top({kSize, top - kDescriptorSize * kSize + 1, kAvail, kUsed}));
  EXPECT_TRUE(area_reaches_top({kSize, kDesc, top - (avail_ring_offset(kSize) + 2) + 1, kUsed}));
  EXPECT_TRUE(r.queue.configure({kSize, top - kDescriptorSize * kSize - 15, kAvail, kUsed}));
  EXPECT_TRUE(r.queue.configure({kSize, kDesc, top - (avail_ring_offset(kSize) + 2) - 1, kUsed}));
}

// Setting a queue up again starts both rings from index 0, reset or not.
TEST(Virtqueue, ConfigureStartsTheRingsAgain) {
  Rig r;
  r.offer_request(0, {RequestType::State, r.device->addr(), 1});
  ASSERT_EQ(service_queue(r.queue, *r.device).chains.size(), 1u);
  ASSERT_TRUE(r.queue.configure({kSize, kDesc, kAvail, kUsed}));
  EXPECT_EQ(r.queue.last_avail(), 0);
  EXPECT_EQ(r.queue.used_idx(), 0);
  r.avail_idx = 0;
  r.offer_request(1, {RequestType::State, r.device->addr(), 1});
  const KickResult kick = service_queue(r.queue, *r.device);
  EXPECT_FALSE(kick.fault);
  ASSERT_EQ(kick.chains.size(), 1u);
  EXPECT_EQ(r.read_u32(kUsed) >> 16, 1u);
}

// The used ring names each chain by its head, and its length.
TEST(Virtqueue, UsedElementsNameTheirHeads) {
  Rig r;
  r.offer_request(3, {RequestType::State, r.device->addr(), 1});  // head 6
  r.offer_request(1, {RequestType::State, r.device->addr(), 1});  // head 2
  ASSERT_EQ(service_queue(r.queue, *r.device).chains.size(), 2u);
  EXPECT_EQ(r.read_u32(kUsed + used_ring_offset(0)), 6u);
  EXPECT_EQ(r.read_u32(kUsed + used_ring_offset(1)), 2u);
  EXPECT_EQ(r.read_u32(kUsed + used_ring_offset(1) + 4), kResponseSize);
  EXPECT_EQ(r.read_u32(kUsed) >> 16, 2u);
}

// A driver may offer a whole ring's worth of chains before one kick.
TEST(Virtqueue, AFullRingIsServiced) {
  Rig r;
  for (uint16_t i = 0; i < kSize / 2; ++i) r.offer_request(i, {RequestType::State, r.device->addr(), 1});
  for (uint16_t i = 0; i < kSize / 2; ++i) r.offer(2 * i);  // each chain twice: kSize entries
  const KickResult kick = service_queue(r.queue, *r.device);
  EXPECT_FALSE(kick.fault);
  EXPECT_EQ(kick.chains.size(), kSize);
}

// A chain in an indirect table may have as many descriptors as the queue has
// entries, no more (2.7.5: the queue size is the longest chain).
TEST(Virtqueue, IndirectTableOfQueueSize) {
  for (const uint32_t entries : {uint32_t{kSize}, uint32_t{kSize + 1}}) {
    Rig r;
    r.put_request(kRequests, {RequestType::State, r.device->addr(), 1});
    r.desc(kTable, 0, {kRequests, kRequestSize, kDescFlagNext, 1});
    for (uint16_t i = 1; i < entries; ++i) {
      const bool last = uint32_t{i} + 1 == entries;
      r.desc(kTable, i, {kResponses, kResponseSize, static_cast<uint16_t>(kDescFlagWrite | (last ? 0 : kDescFlagNext)),
                         static_cast<uint16_t>(i + 1)});
    }
    r.desc(0, {kTable, static_cast<uint32_t>(entries * kDescriptorSize), kDescFlagIndirect, 0});
    r.offer(0);
    if (entries == kSize) {
      const KickResult kick = service_queue(r.queue, *r.device);
      EXPECT_FALSE(kick.fault);
      EXPECT_EQ(r.response(0), (Response{ResponseType::Ack, BlockState::Unplugged}));
    } else {
      r.expect_fault("the chain at head 0 is longer than the queue size (8)");
    }
  }
}

// A chain's last descriptor may chain nowhere: next is checked only with NEXT
// set, and the last index of the table is in range, its size is not.
TEST(Virtqueue, NextAtTheTableEnd) {
  Rig r;
  r.put_request(kRequests, {RequestType::State, r.device->addr(), 1});
  r.desc(0, {kRequests, kRequestSize, kDescFlagNext, kSize - 1});
  r.desc(kSize - 1, {kResponses, kResponseSize, kDescFlagWrite, 0});
  r.offer(0);
  EXPECT_FALSE(service_queue(r.queue, *r.device).fault);
  Rig past;
  past.desc(0, {kRequests, kRequestSize, kDescFlagNext, kSize});
  past.offer(0);
  past.expect_fault("descriptor 0 chains to 8, out of range (table of 8)");
}

// The response overwrites every byte the driver left in its buffer, across
// buffers; a chain's parts may reach 0xffffffff bytes each.
TEST(Virtqueue, ResponseOverwritesTheWholeBuffer) {
  Rig r;
  ASSERT_TRUE(r.ram.write(kResponses, std::array<uint8_t, 16>{0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
                                                              0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5}));
  r.put_request(kRequests, {RequestType::State, r.device->addr(), 1});
  r.desc(0, {kRequests, kRequestSize, kDescFlagNext, 1});
  r.desc(1, {kResponses, 3, kDescFlagWrite | kDescFlagNext, 2});
  r.desc(2, {kResponses + 3, kResponseSize - 3, kDescFlagWrite, 0});
  r.offer(0);
  ASSERT_EQ(service_queue(r.queue, *r.device).chains.size(), 1u);
  std::array<uint8_t, kResponseSize> bytes{};
  ASSERT_TRUE(r.ram.read(kResponses, bytes));
  EXPECT_EQ(bytes, encode_response({ResponseType::Ack, BlockState::Unplugged}));
}

TEST(Virtqueue, ResponseBufferInDeviceMemory) {
  // A response may land in plugged device memory (dynamic memslots): the
  // first PLUG maps the memslot, a later request answers into it.
  Rig r(MemslotMode::Dynamic);
  const uint64_t a = r.device->addr();
  r.offer_request(0, {RequestType::Plug, a, 1});
  ASSERT_EQ(service_queue(r.queue, *r.device).chains.size(), 1u);
  r.offer_answered_at({RequestType::State, a, 1}, a + 64);
  EXPECT_FALSE(service_queue(r.queue, *r.device).fault);
  std::array<uint8_t, kResponseSize> bytes{};
  ASSERT_TRUE(r.space.read(a + 64, bytes));
  EXPECT_EQ(decode_response(bytes), (Response{ResponseType::Ack, BlockState::Plugged}));
  // An UNPLUG of that block answered there: its memslot is gone before the
  // answer, a transport fault, and nothing more is published in the used ring.
  r.offer_answered_at({RequestType::Unplug, a, 1}, a + 64);
  const KickResult kick = service_queue(r.queue, *r.device);
  ASSERT_TRUE(kick.fault);
  EXPECT_EQ(*kick.fault, fmt::format("response buffer at GPA {:#x} of the chain at head 0 is no longer guest RAM", a + 64));
  EXPECT_EQ(r.read_u32(kUsed) >> 16, 2u);
  EXPECT_EQ(r.device->plugged_size(), 0u);
}

}  // namespace
}  // namespace vmemcheck
