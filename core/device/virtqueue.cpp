#include "virtqueue.hpp"

#include <algorithm>
#include <limits>

#include <fmt/format.h>

#include "device.hpp"

namespace vmemcheck {
namespace {

bool wraps(uint64_t start, uint64_t length) { return length > std::numeric_limits<uint64_t>::max() - start; }

// "Drivers MUST NOT add a descriptor chain longer than 2^32 bytes in total"
// (virtio 1.2, 2.7.5.1).
constexpr uint64_t kMaxChainBytes = uint64_t{1} << 32;

}  // namespace

std::array<uint8_t, kDescriptorSize> encode_descriptor(const Descriptor& d) {
  std::array<uint8_t, kDescriptorSize> bytes{};
  store_le(bytes, 0, 8, d.addr);
  store_le(bytes, 8, 4, d.len);
  store_le(bytes, 12, 2, d.flags);
  store_le(bytes, 14, 2, d.next);
  return bytes;
}

Descriptor decode_descriptor(std::span<const uint8_t, kDescriptorSize> bytes) {
  return {load_le(bytes, 0, 8), static_cast<uint32_t>(load_le(bytes, 8, 4)),
          static_cast<uint16_t>(load_le(bytes, 12, 2)), static_cast<uint16_t>(load_le(bytes, 14, 2))};
}

Status Virtqueue::configure(const QueueLayout& l) {
  enabled_ = false;
  if (l.size == 0 || l.size > kQueueSize || (l.size & (l.size - 1)) != 0) {
    return Error{fmt::format("queue size {} is not a power of two within 1..{}", l.size, kQueueSize)};
  }
  if (l.desc % 16 != 0) return Error{fmt::format("descriptor table at {:#x} is not 16-byte aligned", l.desc)};
  if (l.avail % 2 != 0) return Error{fmt::format("available ring at {:#x} is not 2-byte aligned", l.avail)};
  if (l.used % 4 != 0) return Error{fmt::format("used ring at {:#x} is not 4-byte aligned", l.used)};
  if (wraps(l.desc, kDescriptorSize * l.size) || wraps(l.avail, avail_ring_offset(l.size) + 2) ||
      wraps(l.used, used_ring_offset(l.size) + 2)) {
    return Error{"a queue area wraps around the end of the address space"};
  }
  layout_ = l;
  enabled_ = true;
  last_avail_ = 0;
  used_idx_ = 0;
  return ok_status();
}

// configure() starts the indices from zero when the driver enables the queue
// again; until then a disabled queue reads and writes nothing.
void Virtqueue::reset() { enabled_ = false; }

Result<uint16_t> Virtqueue::read_u16(uint64_t gpa, const char* what) {
  std::array<uint8_t, 2> bytes{};
  if (!memory_.read(gpa, bytes)) return Error{fmt::format("{} at GPA {:#x} is outside guest RAM", what, gpa)};
  return static_cast<uint16_t>(load_le(bytes, 0, 2));
}

Result<Descriptor> Virtqueue::read_descriptor(uint64_t table, uint64_t index, bool indirect) {
  std::array<uint8_t, kDescriptorSize> bytes{};
  const uint64_t gpa = table + index * kDescriptorSize;
  if (!memory_.read(gpa, bytes)) {
    return Error{fmt::format("{}descriptor {} at GPA {:#x} is outside guest RAM", indirect ? "indirect " : "", index,
                             gpa)};
  }
  return decode_descriptor(bytes);
}

Result<std::optional<Chain>> Virtqueue::pop() {
  if (!enabled_) return std::optional<Chain>{};
  const auto avail_idx = read_u16(layout_.avail + avail_idx_offset(), "available ring index");
  if (!avail_idx) return avail_idx.error();
  const auto pending = static_cast<uint16_t>(*avail_idx - last_avail_);
  if (pending == 0) return std::optional<Chain>{};
  if (pending > layout_.size) {
    return Error{fmt::format("available index {} is {} entries ahead of the device's {} (queue size {})", *avail_idx,
                             pending, last_avail_, layout_.size)};
  }
  const auto head = read_u16(layout_.avail + avail_ring_offset(last_avail_ % layout_.size), "available ring entry");
  if (!head) return head.error();
  if (*head >= layout_.size) {
    return Error{fmt::format("chain head {} is out of range (queue size {})", *head, layout_.size)};
  }

  Chain chain;
  chain.head = *head;
  uint64_t table = layout_.desc;
  uint64_t table_size = layout_.size;
  bool indirect = false;
  uint64_t index = *head;
  uint64_t visited = 0;
  for (;;) {
    if (++visited > table_size) {
      return Error{fmt::format("descriptor loop in the chain at head {}: more than {} {}descriptors", chain.head,
                               table_size, indirect ? "indirect " : "")};
    }
    // The queue size is the longest chain (2.7.5), in an indirect table too.
    if (visited > layout_.size) {
      return Error{fmt::format("the chain at head {} is longer than the queue size ({})", chain.head, layout_.size)};
    }
    const auto d = read_descriptor(table, index, indirect);
    if (!d) return d.error();
    if (d->flags & kDescFlagIndirect) {
      if (indirect) return Error{fmt::format("nested indirect table in indirect descriptor {}", index)};
      // Direct descriptors may come before it (2.7.5.3.2: the device MUST
      // handle them); nothing after it.
      if (d->flags & kDescFlagNext) {
        return Error{fmt::format("indirect descriptor {} has NEXT set (head {})", index, chain.head)};
      }
      if (d->len == 0 || d->len % kDescriptorSize != 0) {
        return Error{fmt::format("indirect table of descriptor {} has length {}: not a non-zero multiple of {}", index,
                                 d->len, kDescriptorSize)};
      }
      if (!memory_.accessible(d->addr, d->len)) {
        return Error{fmt::format("indirect table of descriptor {} at [{:#x}, +{:#x}) is outside guest RAM", index,
                                 d->addr, d->len)};
      }
      table = d->addr;
      table_size = d->len / kDescriptorSize;
      indirect = true;
      index = 0;
      visited = 0;
      continue;
    }
    const char* kind = indirect ? "indirect descriptor" : "descriptor";
    if (d->len == 0) return Error{fmt::format("{} {} has a zero-length buffer", kind, index)};
    if (wraps(d->addr, d->len) || !memory_.accessible(d->addr, d->len)) {
      return Error{fmt::format("buffer of {} {} at [{:#x}, +{:#x}) is outside guest RAM", kind, index, d->addr,
                               d->len)};
    }
    if (d->flags & kDescFlagWrite) {
      chain.writable.push_back({d->addr, d->len});
      chain.writable_bytes += d->len;
    } else {
      if (!chain.writable.empty()) {
        return Error{fmt::format("device-readable {} {} follows a device-writable one (head {})", kind, index,
                                 chain.head)};
      }
      chain.readable.push_back({d->addr, d->len});
      chain.readable_bytes += d->len;
    }
    if (chain.readable_bytes + chain.writable_bytes > kMaxChainBytes) {
      return Error{fmt::format("chain at head {} is oversized: {} readable and {} writable bytes, more than {:#x}",
                               chain.head, chain.readable_bytes, chain.writable_bytes, kMaxChainBytes)};
    }
    if (!(d->flags & kDescFlagNext)) break;
    if (d->next >= table_size) {
      return Error{fmt::format("{} {} chains to {}, out of range (table of {})", kind, index, d->next, table_size)};
    }
    index = d->next;
  }
  ++last_avail_;
  return std::optional<Chain>{std::move(chain)};
}

bool Virtqueue::read(const Chain& chain, std::span<uint8_t> out) {
  size_t done = 0;
  for (const Segment& s : chain.readable) {
    if (done == out.size()) break;
    const size_t chunk = std::min<size_t>(s.len, out.size() - done);
    if (!memory_.read(s.gpa, out.subspan(done, chunk))) return false;
    done += chunk;
  }
  return true;
}

Status Virtqueue::push(const Chain& chain, std::span<const uint8_t> bytes) {
  if (bytes.size() > chain.writable_bytes) {
    return Error{fmt::format("{} bytes do not fit the {} writable bytes of the chain at head {}", bytes.size(),
                             chain.writable_bytes, chain.head)};
  }
  size_t done = 0;
  for (const Segment& s : chain.writable) {
    if (done == bytes.size()) break;
    const size_t chunk = std::min<size_t>(s.len, bytes.size() - done);
    if (!memory_.write(s.gpa, bytes.subspan(done, chunk))) {
      return Error{fmt::format("response buffer at GPA {:#x} of the chain at head {} is no longer guest RAM", s.gpa,
                               chain.head)};
    }
    done += chunk;
  }
  std::array<uint8_t, 8> element{};
  store_le(element, 0, 4, chain.head);
  store_le(element, 4, 4, bytes.size());
  const uint64_t element_gpa = layout_.used + used_ring_offset(used_idx_ % layout_.size);
  if (!memory_.write(element_gpa, element)) {
    return Error{fmt::format("used ring entry at GPA {:#x} is outside guest RAM", element_gpa)};
  }
  std::array<uint8_t, 2> index{};
  store_le(index, 0, 2, static_cast<uint16_t>(used_idx_ + 1));
  if (!memory_.write(layout_.used + used_idx_offset(), index)) {
    return Error{fmt::format("used ring index at GPA {:#x} is outside guest RAM", layout_.used + used_idx_offset())};
  }
  ++used_idx_;
  return ok_status();
}

KickResult service_queue(Virtqueue& queue, VirtioMemDevice& device) {
  KickResult result;
  const auto fail = [&](std::string reason) {
    device.enter_error_state(reason);
    result.fault = std::move(reason);
  };
  while (!device.needs_reset()) {
    auto popped = queue.pop();
    if (!popped) {
      fail(popped.error().message);
      break;
    }
    if (!*popped) break;
    const Chain& chain = **popped;
    ServicedChain serviced{chain.head, {}, chain.readable_bytes, chain.writable_bytes, std::nullopt, chain.writable};
    if (chain.readable_bytes >= kRequestSize) {
      std::array<uint8_t, kRequestSize> bytes{};
      if (!queue.read(chain, bytes)) {
        fail(fmt::format("request of the chain at head {} is no longer in guest RAM", chain.head));
        break;
      }
      serviced.request = decode_request(bytes);
    }
    // Short parts and unknown types are the device's call (DESIGN §6).
    serviced.response = device.handle_raw(serviced.request, chain.readable_bytes, chain.writable_bytes);
    result.chains.push_back(serviced);
    if (!serviced.response) break;
    if (auto pushed = queue.push(chain, encode_response(*serviced.response)); !pushed) {
      fail(pushed.error().message);
      break;
    }
  }
  return result;
}

}  // namespace vmemcheck
