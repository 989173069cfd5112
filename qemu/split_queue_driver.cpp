#include "split_queue_driver.hpp"

#include <fmt/format.h>

#include "qtest_commands.hpp"

namespace vmemcheck::qemu {
namespace {

// Where the driver keeps its queue and buffers in boot RAM.
constexpr uint64_t kQueueDesc = 0x100000;
constexpr uint64_t kQueueAvail = 0x101000;
constexpr uint64_t kQueueUsed = 0x102000;
// Each further device's rings: 16 KiB on (three 4 KiB rings), all below the buffers.
constexpr uint64_t kRingsStride = 0x4000;
constexpr uint64_t kRequestBuffer = 0x110000;
constexpr uint64_t kResponseBuffer = 0x120000;
constexpr uint16_t kDescNext = 1, kDescWrite = 2;

Error protocol(std::string message) { return Error{std::move(message), ErrorCode::QemuProtocol}; }

// Descriptors: [0] readable part -> [1] writable part; a part of 0 bytes is
// left out (both 0: one empty readable descriptor, itself a protocol violation).
// Returns the head.
uint16_t write_descriptors(const Chain& chain, uint64_t desc_ring, std::vector<std::string>& commands) {
  uint8_t desc[32] = {};
  uint16_t head = 0;
  const bool has_readable = chain.readable > 0 || chain.writable == 0;
  const bool has_writable = chain.writable > 0;
  if (has_readable) {
    store_le(desc, 0, 8, kRequestBuffer);
    store_le(desc, 8, 4, chain.readable);
    store_le(desc, 12, 2, has_writable ? kDescNext : 0);
    store_le(desc, 14, 2, 1);
  } else {
    head = 1;
  }
  if (has_writable) {
    store_le(desc, 16, 8, kResponseBuffer);
    store_le(desc, 24, 4, chain.writable);
    store_le(desc, 28, 2, kDescWrite);
  }
  commands.push_back(mem_write_command(desc_ring, desc));
  return head;
}

}  // namespace

static_assert(kQueueDesc + SplitQueueDriver::kMaxDevices * kRingsStride <= kRequestBuffer);

SplitQueueDriver::SplitQueueDriver(unsigned index)
    : desc_(kQueueDesc + index * kRingsStride),
      avail_(kQueueAvail + index * kRingsStride),
      used_(kQueueUsed + index * kRingsStride) {}

QueueRings SplitQueueDriver::rings() const { return {desc_, avail_, used_}; }

std::vector<std::string> SplitQueueDriver::reset_commands(const VirtioPciTransport::Queue& queue) {
  queue_ = queue;
  avail_idx_ = used_idx_ = 0;
  std::vector<std::string> commands;
  for (uint64_t ring : {desc_, avail_, used_}) commands.push_back(fmt::format("memset {:#x} 4096 0", ring));
  // VIRTQ_AVAIL_F_NO_INTERRUPT: the driver polls the used ring after each notify.
  const uint8_t no_interrupt[2] = {1, 0};
  commands.push_back(mem_write_command(avail_, no_interrupt));
  return commands;
}

Result<Answer> SplitQueueDriver::request(QemuProcess& process, const Chain& chain) {
  if (chain.readable > kMaxPart || chain.writable > kMaxPart) {
    return Error{fmt::format("chain parts longer than {} bytes", kMaxPart)};
  }
  std::vector<std::string> commands;
  // The request bytes, truncated to the readable part; the rest of a longer part reads as zeros.
  uint8_t req[kRequestSize] = {};
  store_le(req, 0, 2, chain.type);
  store_le(req, 8, 8, chain.addr);
  store_le(req, 16, 2, chain.nb_blocks);
  if (chain.readable > kRequestSize) commands.push_back(fmt::format("memset {:#x} {} 0", kRequestBuffer, chain.readable));
  if (const uint64_t written = std::min<uint64_t>(chain.readable, kRequestSize); written > 0) {
    commands.push_back(mem_write_command(kRequestBuffer, std::span(req, written)));
  }
  // The response buffer starts as 0xff, so a device that writes nothing is seen.
  commands.push_back(fmt::format("memset {:#x} {} 0xff", kResponseBuffer, kResponseSize));
  const uint16_t head = write_descriptors(chain, desc_, commands);
  uint8_t slot[2];
  store_le(slot, 0, 2, head);
  commands.push_back(mem_write_command(avail_ + 4 + 2 * (avail_idx_ % queue_.size), slot));
  ++avail_idx_;
  uint8_t idx[2];
  store_le(idx, 0, 2, avail_idx_);
  commands.push_back(mem_write_command(avail_ + 2, idx));
  commands.push_back(mmio_write_command(queue_.notify_addr, 2, 0));
  // The used index, the element the device would have written and the response, read at once.
  const size_t reads = commands.size();
  commands.push_back(fmt::format("read {:#x} 2", used_ + 2));
  commands.push_back(fmt::format("read {:#x} 8", used_ + 4 + 8 * (used_idx_ % queue_.size)));
  commands.push_back(fmt::format("read {:#x} {}", kResponseBuffer, kResponseSize));
  auto answers = process.qtest_batch(commands);
  if (!answers) return answers.error();
  auto used = parse_bytes((*answers)[reads], 2);
  if (!used) return used.error();
  const uint16_t used_idx = static_cast<uint16_t>(load_le(*used, 0, 2));
  Answer answer;
  if (used_idx == used_idx_) return answer;
  if (static_cast<uint16_t>(used_idx - used_idx_) != 1) {
    return protocol(fmt::format("the used index moved from {} to {} for one chain", used_idx_, used_idx));
  }
  used_idx_ = used_idx;
  auto element = parse_bytes((*answers)[reads + 1], 8);
  if (!element) return element.error();
  answer.used_len = static_cast<uint32_t>(load_le(*element, 4, 4));
  if (load_le(*element, 0, 4) != head) {
    return protocol(fmt::format("used element id {} for head {}", load_le(*element, 0, 4), head));
  }
  auto bytes = parse_bytes((*answers)[reads + 2], kResponseSize);
  if (!bytes) return bytes.error();
  const uint16_t type = static_cast<uint16_t>(load_le(*bytes, 0, 2));
  const uint16_t state = static_cast<uint16_t>(load_le(*bytes, 8, 2));
  if (type > 3) return protocol(fmt::format("response type {} (bytes {})", type, (*answers)[reads + 2]));
  if (type == 0 && chain.type == static_cast<uint16_t>(RequestType::State) && state > 2) {
    return protocol(fmt::format("STATE answered state {}", state));
  }
  Response r;
  r.type = static_cast<ResponseType>(type);
  r.state = state <= 2 ? static_cast<BlockState>(state) : BlockState::Plugged;
  answer.response = r;
  return answer;
}

}  // namespace vmemcheck::qemu
