// Eleven malformed chains from the virtio spec (1.2 numbering), and three
// well-formed ones the spec makes a device handle, each run on the reference
// virtqueue and on the device's own virtqueue: both must fault (or answer)
// as the clause says.
#include "reference_virtqueue.hpp"

#include <gtest/gtest.h>

#include <array>

#include "device.hpp"
#include "guest_ram.hpp"
#include "machine.hpp"
#include "overlay_memory.hpp"
#include "reference_model.hpp"
#include "shadow_kvm.hpp"
#include "virtqueue.hpp"

namespace vmemcheck {
namespace {

// A queue of 8 in boot RAM, then requests, responses and an indirect table.
constexpr uint16_t kSize = 8;
constexpr uint64_t kDesc = 0x0;
constexpr uint64_t kAvail = 0x1000;
constexpr uint64_t kUsed = 0x2000;
constexpr uint64_t kRequest = 0x3000;
constexpr uint64_t kResponse = 0x4000;
constexpr uint64_t kTable = 0x5000;

class ModelDevice final : public ChainAnswerer {
 public:
  explicit ModelDevice(const DeviceConfig& config) : model_(config, 1) {}
  bool needs_reset() const override { return model_.needs_reset(); }
  std::optional<Response> answer(std::span<const uint8_t> r, uint64_t readable, uint64_t writable) override {
    const DecodedRequest request = decode_request(std::span<const uint8_t, kRequestSize>(r.first<kRequestSize>()));
    return model_.raw_request(request.raw_type, request.addr, request.nb_blocks, readable, writable);
  }

 private:
  ReferenceModel model_;
};

// One device with both queues set up over the same layout; the driver's
// helpers write boot RAM.
struct Chains {
  explicit Chains(uint64_t ram_size = 1 * MiB) : ram(0, ram_size) {
    DeviceConfig config;
    config.region_size = 4 * GiB;
    config.requested_size = GiB;
    device = *machine.add_device(config);
    EXPECT_TRUE(queue.configure({kSize, kDesc, kAvail, kUsed}));
    EXPECT_TRUE(reference.set_up({kSize, kDesc, kAvail, kUsed}));
    EXPECT_TRUE(ram.write(kRequest, encode_request({RequestType::Plug, device->addr(), 1})));
  }
  void desc(uint64_t table, uint16_t index, Descriptor d) {
    ASSERT_TRUE(ram.write(table + index * kDescriptorSize, encode_descriptor(d)));
  }
  void request_at(uint64_t table, uint16_t index, uint16_t next) {
    desc(table, index, {kRequest, kRequestSize, kDescFlagNext, next});
  }
  void response_at(uint64_t table, uint16_t index) { desc(table, index, {kResponse, kResponseSize, kDescFlagWrite, 0}); }
  void write_u16(uint64_t gpa, uint16_t value) {
    ASSERT_TRUE(ram.write(gpa, std::array<uint8_t, 2>{static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8)}));
  }
  void offer(uint16_t head, uint16_t avail_idx = 1) {
    write_u16(kAvail + avail_ring_offset(0), head);
    write_u16(kAvail + avail_idx_offset(), avail_idx);
  }
  // The reference first, over an overlay (its writes stay there), then the device.
  void kick() {
    OverlayMemory overlay(space);
    ModelDevice model(device->config());
    reference_kick = reference.kick(overlay, model);
    core_kick = service_queue(queue, *device);
  }
  void expect_fault(ChainFault fault) {
    kick();
    EXPECT_EQ(reference_kick.fault, fault) << (reference_kick.fault ? name(*reference_kick.fault) : "no fault");
    EXPECT_TRUE(reference_kick.chains.empty());
    EXPECT_TRUE(core_kick.fault) << "the device answered a chain the spec forbids";
    EXPECT_TRUE(core_kick.chains.empty());
    EXPECT_TRUE(device->needs_reset());
    EXPECT_EQ(queue.used_idx(), 0);
  }
  void expect_answer(Response response) {
    kick();
    EXPECT_FALSE(reference_kick.fault) << name(*reference_kick.fault);
    ASSERT_EQ(reference_kick.chains.size(), 1u);
    EXPECT_EQ(reference_kick.chains[0].response, response);
    EXPECT_FALSE(core_kick.fault) << *core_kick.fault;
    ASSERT_EQ(core_kick.chains.size(), 1u);
    EXPECT_EQ(core_kick.chains[0].response, response);
    EXPECT_EQ(queue.used_idx(), reference.used_idx());
  }

  ShadowKvm kvm;
  SparseHostMemory host;
  Machine machine{{}, kvm, host};
  GuestRam ram;  // sparse: a large one takes memory only where written
  GuestAddressSpace space{ram, machine.guest_memory()};
  Virtqueue queue{space};
  ReferenceVirtqueue reference;
  VirtioMemDevice* device = nullptr;
  ReferenceKick reference_kick;
  KickResult core_kick;
};

// 2.7.6: avail.idx "increases" by the chains added; more than the queue size
// ahead of what the device used cannot be (QEMU: "Guest moved used index").
TEST(MalformedChain, AvailableIndexMoreThanTheQueueSizeAhead) {
  Chains c;
  c.request_at(kDesc, 0, 1);
  c.response_at(kDesc, 1);
  c.offer(0, kSize + 1);
  c.expect_fault(ChainFault::AvailIndexTooFarAhead);
}

// 2.7.6: a ring entry is "the head of a descriptor chain": an index into the table.
TEST(MalformedChain, HeadOutsideTheDescriptorTable) {
  Chains c;
  c.offer(kSize);
  c.expect_fault(ChainFault::HeadOutOfRange);
}

// 2.7.5: `next` is an index into the descriptor table.
TEST(MalformedChain, NextOutsideTheDescriptorTable) {
  Chains c;
  c.request_at(kDesc, 0, kSize);
  c.offer(0);
  c.expect_fault(ChainFault::NextOutOfRange);
}

// 2.7.5.1: "loops in the descriptor chain are forbidden".
TEST(MalformedChain, DescriptorLoop) {
  Chains c;
  c.request_at(kDesc, 0, 1);
  c.request_at(kDesc, 1, 0);
  c.offer(0);
  c.expect_fault(ChainFault::Loop);
}

// 2.7.5.3.1: "A driver MUST NOT set both VIRTQ_DESC_F_INDIRECT and VIRTQ_DESC_F_NEXT in flags."
TEST(MalformedChain, IndirectWithNext) {
  Chains c;
  c.request_at(kTable, 0, 1);
  c.response_at(kTable, 1);
  c.desc(kDesc, 0, {kTable, 2 * kDescriptorSize, kDescFlagIndirect | kDescFlagNext, 1});
  c.response_at(kDesc, 1);
  c.offer(0);
  c.expect_fault(ChainFault::IndirectWithNext);
}

// 2.7.5.3.1: "The driver MUST NOT set the VIRTQ_DESC_F_INDIRECT flag within
// an indirect descriptor (ie. only one table per descriptor)."
TEST(MalformedChain, IndirectInsideAnIndirectTable) {
  Chains c;
  c.desc(kTable, 0, {kTable + 0x100, 2 * kDescriptorSize, kDescFlagIndirect, 0});
  c.desc(kDesc, 0, {kTable, kDescriptorSize, kDescFlagIndirect, 0});
  c.offer(0);
  c.expect_fault(ChainFault::NestedIndirect);
}

// 2.7.5.3: the table is len bytes of 16-byte descriptors.
TEST(MalformedChain, IndirectTableLengthNotAMultipleOf16) {
  Chains c;
  c.request_at(kTable, 0, 1);
  c.response_at(kTable, 1);
  c.desc(kDesc, 0, {kTable, 2 * kDescriptorSize + 8, kDescFlagIndirect, 0});
  c.offer(0);
  c.expect_fault(ChainFault::IndirectTableLength);
}

// 2.7.5.3: inside an indirect table, `next` indexes that table, of len/16
// entries: 2 here, though the queue has 8.
TEST(MalformedChain, NextOutsideTheIndirectTable) {
  Chains c;
  c.request_at(kTable, 0, 2);
  c.response_at(kTable, 2);
  c.desc(kDesc, 0, {kTable, 2 * kDescriptorSize, kDescFlagIndirect, 0});
  c.offer(0);
  c.expect_fault(ChainFault::NextOutOfRange);
}

// 2.7.4.2: "The driver MUST place any device-writable descriptor elements
// after any device-readable descriptor elements."
TEST(MalformedChain, ReadableAfterWritable) {
  Chains c;
  c.desc(kDesc, 0, {kResponse, kResponseSize, kDescFlagWrite | kDescFlagNext, 1});
  c.desc(kDesc, 1, {kRequest, kRequestSize, 0, 0});
  c.offer(0);
  c.expect_fault(ChainFault::ReadableAfterWritable);
}

// 2.7.5: the queue size "is the maximum possible descriptor chain length";
// a chain of 9 in a table of 16 entries, on a queue of 8.
TEST(MalformedChain, IndirectChainLongerThanTheQueue) {
  Chains c;
  c.request_at(kTable, 0, 1);
  for (uint16_t i = 1; i <= kSize; ++i) {
    const bool last = i == kSize;
    c.desc(kTable, i, {kResponse, kResponseSize, static_cast<uint16_t>(kDescFlagWrite | (last ? 0 : kDescFlagNext)),
                       static_cast<uint16_t>(i + 1)});
  }
  c.desc(kDesc, 0, {kTable, 2 * kSize * kDescriptorSize, kDescFlagIndirect, 0});
  c.offer(0);
  c.expect_fault(ChainFault::LongerThanQueue);
}

// 2.7.5.1: "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes
// in total": a 24-byte request and a writable part that makes 2^32 + 1.
TEST(MalformedChain, LongerThan2To32BytesInTotal) {
  Chains c(8 * GiB);
  c.request_at(kDesc, 0, 1);
  c.desc(kDesc, 1, {GiB, static_cast<uint32_t>((uint64_t{1} << 32) - kRequestSize + 1 - 16), kDescFlagWrite | kDescFlagNext, 2});
  c.desc(kDesc, 2, {kResponse, 16, kDescFlagWrite, 0});
  c.offer(0);
  c.expect_fault(ChainFault::LongerThan4GiB);
}

// ... and a chain of exactly 2^32 bytes is one.
TEST(WellFormedChain, Exactly2To32BytesInTotal) {
  Chains c(8 * GiB);
  c.request_at(kDesc, 0, 1);
  c.desc(kDesc, 1, {GiB, static_cast<uint32_t>((uint64_t{1} << 32) - kRequestSize - 16), kDescFlagWrite | kDescFlagNext, 2});
  c.desc(kDesc, 2, {kResponse, 16, kDescFlagWrite, 0});
  c.offer(0);
  c.expect_answer(Response{ResponseType::Ack});
}

// 2.7.5.3.2: "The device MUST handle the case of zero or more normal chained
// descriptors followed by a single descriptor with flags&VIRTQ_DESC_F_INDIRECT."
TEST(WellFormedChain, DirectDescriptorsBeforeAnIndirectOne) {
  Chains c;
  c.request_at(kDesc, 0, 1);
  c.desc(kDesc, 1, {kTable, kDescriptorSize, kDescFlagIndirect, 0});
  c.response_at(kTable, 0);
  c.offer(0);
  c.expect_answer(Response{ResponseType::Ack});
}

// 2.7.5.3.2: "The device MUST ignore the write-only flag
// (flags&VIRTQ_DESC_F_WRITE) in the descriptor that refers to an indirect table."
TEST(WellFormedChain, WriteFlagOnTheIndirectDescriptorIsIgnored) {
  Chains c;
  c.request_at(kTable, 0, 1);
  c.response_at(kTable, 1);
  c.desc(kDesc, 0, {kTable, 2 * kDescriptorSize, kDescFlagIndirect | kDescFlagWrite, 0});
  c.offer(0);
  c.expect_answer(Response{ResponseType::Ack});
}

}  // namespace
}  // namespace vmemcheck
