#include "reference_virtqueue.hpp"

#include <algorithm>
#include <array>

namespace vmemcheck {
namespace {

// §2.7.5 struct virtq_desc: le64 addr; le32 len; le16 flags; le16 next.
constexpr uint16_t kNext = 1;
constexpr uint16_t kWrite = 2;
constexpr uint16_t kIndirect = 4;
constexpr uint64_t kDescriptorBytes = 16;
// §2.7.5.1: "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in total".
constexpr uint64_t kLongestChainBytes = uint64_t{1} << 32;
// virtio-mem's request (24 bytes) and response (10 bytes), §5.15.6.
constexpr uint64_t kRequestBytes = 24;
constexpr uint64_t kResponseBytes = 10;

// 128-bit sums: an area ending past 2^64 is seen, not wrapped.
__extension__ using u128 = unsigned __int128;

uint64_t little_endian(std::span<const uint8_t> bytes) {
  uint64_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) value = value << 8 | bytes[i];
  return value;
}

bool write_little_endian(GuestMemory& memory, uint64_t gpa, uint64_t value, size_t width) {
  std::array<uint8_t, 8> bytes{};
  for (size_t i = 0; i < width; ++i) bytes[i] = static_cast<uint8_t>(value >> (8 * i));
  return memory.write(gpa, std::span(bytes).first(width));
}

std::optional<uint16_t> read_u16(GuestMemory& memory, uint64_t gpa) {
  std::array<uint8_t, 2> bytes{};
  if (!memory.read(gpa, bytes)) return std::nullopt;
  return static_cast<uint16_t>(little_endian(bytes));
}

struct RawDescriptor {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

std::optional<RawDescriptor> read_descriptor(GuestMemory& memory, uint64_t gpa) {
  std::array<uint8_t, kDescriptorBytes> b{};
  if (!memory.read(gpa, b)) return std::nullopt;
  const std::span<const uint8_t> bytes(b);
  return RawDescriptor{little_endian(bytes.subspan(0, 8)), static_cast<uint32_t>(little_endian(bytes.subspan(8, 4))),
                       static_cast<uint16_t>(little_endian(bytes.subspan(12, 2))),
                       static_cast<uint16_t>(little_endian(bytes.subspan(14, 2)))};
}

// [gpa, gpa + len) inside the 64-bit address space and in guest memory.
bool in_memory(const GuestMemory& memory, uint64_t gpa, uint64_t len) {
  return u128{gpa} + len <= u128{UINT64_MAX} + 1 && memory.accessible(gpa, len);
}

// Copies `bytes` across the buffers in order (§2.7.4: one byte stream).
bool scatter(GuestMemory& memory, const std::vector<ReferenceBuffer>& buffers, std::span<const uint8_t> bytes) {
  size_t done = 0;
  for (const ReferenceBuffer& b : buffers) {
    const size_t chunk = std::min<size_t>(b.len, bytes.size() - done);
    if (chunk == 0) break;
    if (!memory.write(b.gpa, bytes.subspan(done, chunk))) return false;
    done += chunk;
  }
  return done == bytes.size();
}

bool gather(GuestMemory& memory, const std::vector<ReferenceBuffer>& buffers, std::span<uint8_t> bytes) {
  size_t done = 0;
  for (const ReferenceBuffer& b : buffers) {
    const size_t chunk = std::min<size_t>(b.len, bytes.size() - done);
    if (chunk == 0) break;
    if (!memory.read(b.gpa, bytes.subspan(done, chunk))) return false;
    done += chunk;
  }
  return done == bytes.size();
}

// The table a walk is in: the queue's descriptor table or an indirect one.
struct Table {
  uint64_t base;
  uint64_t entries;
  bool indirect;
};

std::optional<ChainFault> enter_indirect(const GuestMemory& memory, const RawDescriptor& d, Table& table) {
  if (table.indirect) return ChainFault::NestedIndirect;
  if (d.flags & kNext) return ChainFault::IndirectWithNext;
  if (d.len == 0 || d.len % kDescriptorBytes != 0) return ChainFault::IndirectTableLength;
  if (!in_memory(memory, d.addr, d.len)) return ChainFault::IndirectTableOutsideMemory;
  table = {d.addr, d.len / kDescriptorBytes, true};
  return std::nullopt;
}

std::optional<ChainFault> add_buffer(const GuestMemory& memory, const RawDescriptor& d, ReferenceChain& chain) {
  if (d.len == 0) return ChainFault::ZeroLengthBuffer;
  if (!in_memory(memory, d.addr, d.len)) return ChainFault::BufferOutsideMemory;
  if (d.flags & kWrite) {
    chain.writable.push_back({d.addr, d.len});
    chain.writable_bytes += d.len;
  } else {
    if (!chain.writable.empty()) return ChainFault::ReadableAfterWritable;
    chain.readable.push_back({d.addr, d.len});
    chain.readable_bytes += d.len;
  }
  if (chain.readable_bytes + chain.writable_bytes > kLongestChainBytes) return ChainFault::LongerThan4GiB;
  return std::nullopt;
}

// The request: the first 24 bytes of the readable part, when it has them.
std::optional<ChainFault> read_request(GuestMemory& memory, ReferenceChain& chain) {
  if (chain.readable_bytes < kRequestBytes) return std::nullopt;
  chain.request.resize(kRequestBytes);
  if (!gather(memory, chain.readable, chain.request)) return ChainFault::RequestOutsideMemory;
  return std::nullopt;
}

}  // namespace

std::string_view name(ChainFault fault) {
  switch (fault) {
    case ChainFault::RingOutsideMemory: return "available ring outside guest memory";
    case ChainFault::AvailIndexTooFarAhead: return "available index more than the queue size ahead";
    case ChainFault::HeadOutOfRange: return "chain head outside the descriptor table";
    case ChainFault::DescriptorOutsideMemory: return "descriptor outside guest memory";
    case ChainFault::NextOutOfRange: return "next outside its table";
    case ChainFault::Loop: return "descriptor loop";
    case ChainFault::LongerThanQueue: return "chain longer than the queue size";
    case ChainFault::IndirectWithNext: return "indirect descriptor with NEXT";
    case ChainFault::NestedIndirect: return "indirect descriptor inside an indirect table";
    case ChainFault::IndirectTableLength: return "indirect table length not a non-zero multiple of 16";
    case ChainFault::IndirectTableOutsideMemory: return "indirect table outside guest memory";
    case ChainFault::ZeroLengthBuffer: return "zero-length buffer";
    case ChainFault::BufferOutsideMemory: return "buffer outside guest memory";
    case ChainFault::ReadableAfterWritable: return "device-readable buffer after a device-writable one";
    case ChainFault::LongerThan4GiB: return "chain longer than 2^32 bytes";
    case ChainFault::RequestOutsideMemory: return "request no longer in guest memory";
    case ChainFault::ResponseOutsideMemory: return "response buffer no longer in guest memory";
    case ChainFault::UsedRingOutsideMemory: return "used ring outside guest memory";
  }
  return "?";
}

bool ReferenceVirtqueue::set_up(const QueueLayout& layout) {
  enabled_ = false;
  const uint64_t n = layout.size;
  const bool power_of_two = n != 0 && (n & (n - 1)) == 0;
  if (!power_of_two || n > kQueueSize) return false;
  if (layout.desc % 16 != 0 || layout.avail % 2 != 0 || layout.used % 4 != 0) return false;
  // §2.7: table 16 bytes a descriptor; rings flags, idx, entries, event word.
  // The end address of each area must itself be an address.
  const auto fits = [](uint64_t start, uint64_t bytes) { return u128{start} + bytes <= u128{UINT64_MAX}; };
  if (!fits(layout.desc, 16 * n) || !fits(layout.avail, 6 + 2 * n) || !fits(layout.used, 6 + 8 * n)) return false;
  layout_ = layout;
  enabled_ = true;
  last_avail_ = 0;
  used_idx_ = 0;
  return true;
}

// §2.7.6: avail.idx counts chains made available, modulo 2^16; ring[i % size] holds each head.
std::optional<ChainFault> ReferenceVirtqueue::next_head(GuestMemory& memory, std::optional<uint16_t>& head) {
  const auto avail_idx = read_u16(memory, layout_.avail + 2);
  if (!avail_idx) return ChainFault::RingOutsideMemory;
  const auto outstanding = static_cast<uint16_t>(*avail_idx - last_avail_);
  if (outstanding == 0) return std::nullopt;
  if (outstanding > layout_.size) return ChainFault::AvailIndexTooFarAhead;
  const auto entry = read_u16(memory, layout_.avail + 4 + 2 * uint64_t{static_cast<uint16_t>(last_avail_ % layout_.size)});
  if (!entry) return ChainFault::RingOutsideMemory;
  if (*entry >= layout_.size) return ChainFault::HeadOutOfRange;
  head = *entry;
  return std::nullopt;
}

std::optional<ChainFault> ReferenceVirtqueue::walk(GuestMemory& memory, ReferenceChain& chain) const {
  Table table{layout_.desc, layout_.size, false};
  uint64_t index = chain.head;
  uint64_t visited = 0;  // descriptors of the current table
  for (;;) {
    if (++visited > table.entries) return ChainFault::Loop;
    if (visited > layout_.size) return ChainFault::LongerThanQueue;
    const auto d = read_descriptor(memory, table.base + index * kDescriptorBytes);
    if (!d) return ChainFault::DescriptorOutsideMemory;
    if (d->flags & kIndirect) {
      if (auto fault = enter_indirect(memory, *d, table)) return fault;
      index = 0;  // §2.7.5.3: the table's first descriptor starts the rest of the chain
      visited = 0;
      continue;
    }
    if (auto fault = add_buffer(memory, *d, chain)) return fault;
    if (!(d->flags & kNext)) return std::nullopt;
    if (d->next >= table.entries) return ChainFault::NextOutOfRange;
    index = d->next;
  }
}

// §2.7.8: the response into the writable buffers, then the used element
// {id = head, len = bytes written}, then used.idx.
std::optional<ChainFault> ReferenceVirtqueue::publish(GuestMemory& memory, const ReferenceChain& chain) {
  std::array<uint8_t, kResponseBytes> response{};
  response[0] = static_cast<uint8_t>(chain.response->type);
  response[8] = static_cast<uint8_t>(chain.response->state);
  if (!scatter(memory, chain.writable, response)) return ChainFault::ResponseOutsideMemory;
  const uint64_t element = layout_.used + 4 + 8 * uint64_t{static_cast<uint16_t>(used_idx_ % layout_.size)};
  if (!write_little_endian(memory, element, chain.head, 4) ||
      !write_little_endian(memory, element + 4, kResponseBytes, 4) ||
      !write_little_endian(memory, layout_.used + 2, static_cast<uint16_t>(used_idx_ + 1), 2)) {
    return ChainFault::UsedRingOutsideMemory;
  }
  ++used_idx_;
  return std::nullopt;
}

ReferenceKick ReferenceVirtqueue::kick(GuestMemory& memory, ChainAnswerer& device) {
  ReferenceKick kick;
  while (enabled_ && !device.needs_reset()) {
    std::optional<uint16_t> head;
    if ((kick.fault = next_head(memory, head)) || !head) break;
    ReferenceChain chain;
    chain.head = *head;
    if ((kick.fault = walk(memory, chain))) break;
    ++last_avail_;
    if ((kick.fault = read_request(memory, chain))) break;
    std::array<uint8_t, kRequestBytes> request{};
    std::ranges::copy(chain.request, request.begin());  // zeros when the readable part is shorter
    chain.response = device.answer(request, chain.readable_bytes, chain.writable_bytes);
    kick.chains.push_back(chain);
    if (!chain.response || (kick.fault = publish(memory, chain))) break;
  }
  return kick;
}

std::variant<ReferenceChain, ChainFault> ReferenceVirtqueue::chain_at(GuestMemory& memory, uint16_t head) const {
  ReferenceChain chain;
  chain.head = head;
  if (auto fault = walk(memory, chain)) return *fault;
  if (auto fault = read_request(memory, chain)) return *fault;
  return chain;
}

}  // namespace vmemcheck
