#include "raw_queue.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "qemu_chain_quirks.hpp"
#include "qtest_commands.hpp"
#include "qtest_memory.hpp"
#include "virtio_pci_transport.hpp"

namespace vmemcheck::qemu {
namespace {

Error protocol(std::string message) { return Error{std::move(message), ErrorCode::QemuProtocol}; }

std::array<uint8_t, 2> le16(uint16_t value) { return {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8)}; }

Result<uint16_t> parse_u16(const std::string& answer) {
  auto bytes = parse_bytes(answer, 2);
  if (!bytes) return bytes.error();
  return static_cast<uint16_t>(load_le(*bytes, 0, 2));
}

// Reads of the response's bytes: the first 10 of the writable buffers.
std::vector<std::string> response_reads(const ReferenceChain& chain) {
  std::vector<std::string> reads;
  uint64_t left = kResponseSize;
  for (const ReferenceBuffer& b : chain.writable) {
    if (left == 0) break;
    const uint64_t chunk = std::min<uint64_t>(left, b.len);
    reads.push_back(mem_read_command(b.gpa, chunk));
    left -= chunk;
  }
  return left == 0 ? reads : std::vector<std::string>{};
}

// The response from the answers to response_reads(); none when the chain's
// buffers could not be read.
Result<std::optional<Response>> parse_response(const ReferenceChain& chain, std::span<const std::string> answers) {
  if (answers.empty()) return std::optional<Response>();
  std::array<uint8_t, kResponseSize> bytes{};
  size_t done = 0;
  for (size_t i = 0; i < answers.size(); ++i) {
    const size_t chunk = std::min<size_t>(kResponseSize - done, chain.writable[i].len);
    auto part = parse_bytes(answers[i], chunk);
    if (!part) return part.error();
    std::ranges::copy(*part, bytes.begin() + static_cast<long>(done));
    done += chunk;
  }
  const auto response = decode_response(bytes);
  if (!response) return protocol(fmt::format("QEMU's response to the chain at head {} reads {:02x}", chain.head,
                                             fmt::join(bytes, "")));
  return std::optional<Response>(response);
}

bool is_state_request(const ReferenceChain& chain) {
  return chain.request.size() >= 2 && load_le(chain.request, 0, 2) == static_cast<uint16_t>(RequestType::State);
}

}  // namespace

bool RawQueue::in_low_ram(const QueueLayout& l) {
  const uint64_t n = l.size;
  return in_low_ram(l.desc, 16 * n) && in_low_ram(l.avail, 6 + 2 * n) && in_low_ram(l.used, 6 + 8 * n);
}

void RawQueue::set_up(const QueueLayout& layout, uint64_t notify_addr, std::string status_read) {
  layout_ = layout;
  shape_.set_up(layout);
  enabled_ = true;
  handed_over_ = 0;
  used_ = 0;
  notify_addr_ = notify_addr;
  status_read_ = std::move(status_read);
}

Status RawQueue::write_avail_idx(QemuProcess& process, uint16_t value) {
  auto written = process.qtest(mem_write_command(layout_.avail + 2, le16(value)));
  if (!written) return written.error();
  return ok_status();
}

Result<RawQueue::Notified> RawQueue::notify(QemuProcess& process, std::vector<std::string> commands,
                                            const std::vector<std::string>& reads) {
  const size_t first = commands.size();
  commands.push_back(mem_read_command(layout_.used + 2, 2));
  commands.push_back(mmio_write_command(notify_addr_, 2, 0));
  commands.push_back(mem_read_command(layout_.used + 2, 2));
  commands.push_back(status_read_);
  commands.insert(commands.end(), reads.begin(), reads.end());
  auto answers = process.qtest_batch(commands);
  if (!answers) return answers.error();
  auto before = parse_u16((*answers)[first]);
  if (!before) return before.error();
  auto after = parse_u16((*answers)[first + 2]);
  if (!after) return after.error();
  auto status = parse_hex((*answers)[first + 3]);
  if (!status) return status.error();
  return Notified{*before, *after, (*status & kStatusNeedsReset) != 0,
                  {answers->begin() + static_cast<long>(first + 4), answers->end()}};
}

Result<RawKick> RawQueue::notify_as_is(QemuProcess& process, uint16_t target) {
  auto notified = notify(process, {}, {});
  if (!notified) return notified.error();
  RawKick kick;
  kick.needs_reset = notified->needs_reset;
  // Chains QEMU served past the index: which, and what it answered, the
  // driver cannot tell apart; that it served any is the difference.
  if (notified->used_after != notified->used_before) {
    kick.served_past_index = static_cast<uint16_t>(notified->used_after - used_);
    used_ = notified->used_after;
  }
  handed_over_ = target;
  return kick;
}

Result<RawQueue::HandedOver> RawQueue::hand_over_one(QemuProcess& process) {
  QtestMemory memory(process);
  std::array<uint8_t, 2> entry{};
  const uint64_t slot = layout_.avail + 4 + 2 * uint64_t{static_cast<uint16_t>(handed_over_ % layout_.size)};
  if (!memory.read(slot, entry)) return *memory.failure();
  const auto head = static_cast<uint16_t>(load_le(entry, 0, 2));
  // Where its response will go, read before QEMU writes anything.
  std::optional<ReferenceChain> chain;
  if (head < layout_.size) {
    auto walked = shape_.chain_at(memory, head);
    if (memory.failure()) return *memory.failure();
    if (auto* c = std::get_if<ReferenceChain>(&walked)) chain = std::move(*c);
  }
  ++handed_over_;
  const uint64_t element = layout_.used + 4 + 8 * uint64_t{static_cast<uint16_t>(used_ % layout_.size)};
  std::vector<std::string> reads{mem_read_command(element, 8)};
  if (chain) std::ranges::copy(response_reads(*chain), std::back_inserter(reads));
  auto notified = notify(process, {mem_write_command(layout_.avail + 2, le16(handed_over_))}, reads);
  if (!notified) return notified.error();
  if (notified->needs_reset) return HandedOver{head, std::nullopt};
  if (notified->used_after != static_cast<uint16_t>(used_ + 1)) {
    return protocol(fmt::format("QEMU neither used the chain at head {} nor needs a reset (used index {} after {})",
                                head, notified->used_after, used_));
  }
  ++used_;
  auto used = parse_bytes(notified->reads[0], 8);
  if (!used) return used.error();
  if (load_le(*used, 0, 4) != head) return protocol(fmt::format("used element id {} for head {}", load_le(*used, 0, 4), head));
  RawAnswer answer{head, static_cast<uint32_t>(load_le(*used, 4, 4)), chain && is_state_request(*chain), {}};
  if (chain) {
    auto response = parse_response(*chain, std::span(notified->reads).subspan(1));
    if (!response) return response.error();
    answer.response = *response;
  }
  return HandedOver{head, answer};
}

Result<uint16_t> RawQueue::avail_idx(QemuProcess& process) {
  QtestMemory memory(process);
  std::array<uint8_t, 2> idx{};
  if (!memory.read(layout_.avail + 2, idx)) return *memory.failure();
  return static_cast<uint16_t>(load_le(idx, 0, 2));
}

Result<bool> RawQueue::index_too_far_ahead(QemuProcess& process) {
  auto target = avail_idx(process);
  if (!target) return target.error();
  return static_cast<uint16_t>(*target - handed_over_) > layout_.size;
}

Result<std::optional<std::string_view>> RawQueue::read_otherwise(QemuProcess& process) {
  auto target = avail_idx(process);
  if (!target) return target.error();
  QtestMemory memory(process);
  const auto pending = static_cast<uint16_t>(*target - handed_over_);
  std::optional<std::string_view> why;
  for (uint16_t i = 0; i < pending && pending <= layout_.size && !why; ++i) {
    std::array<uint8_t, 2> entry{};
    const uint64_t slot = layout_.avail + 4 + 2 * uint64_t{static_cast<uint16_t>((handed_over_ + i) % layout_.size)};
    if (!memory.read(slot, entry)) break;
    const auto head = static_cast<uint16_t>(load_le(entry, 0, 2));
    if (head >= layout_.size) break;
    why = qemu_reads_otherwise(memory, layout_, head);
    if (!why && std::holds_alternative<ChainFault>(shape_.chain_at(memory, head))) break;
  }
  if (memory.failure()) return *memory.failure();
  return why;
}

Result<RawKick> RawQueue::kick(QemuProcess& process) {
  auto avail = avail_idx(process);
  if (!avail) return avail.error();
  const uint16_t target = *avail;
  const auto pending = static_cast<uint16_t>(target - handed_over_);
  if (pending == 0 || pending > layout_.size) return notify_as_is(process, target);
  // Hidden first, then shown one chain further per notify.
  if (auto hidden = write_avail_idx(process, handed_over_); !hidden) return hidden.error();
  RawKick kick;
  for (uint16_t i = 0; i < pending && !kick.needs_reset; ++i) {
    auto handed = hand_over_one(process);
    if (!handed) return handed.error();
    if (handed->answer) {
      kick.used.push_back(*handed->answer);
    } else {
      kick.needs_reset = true;
      kick.unused_head = handed->head;
    }
  }
  if (auto restored = write_avail_idx(process, target); !restored) return restored.error();
  return kick;
}

}  // namespace vmemcheck::qemu
