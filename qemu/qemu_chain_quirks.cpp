#include "qemu_chain_quirks.hpp"

#include <array>

namespace vmemcheck::qemu {
namespace {

constexpr uint16_t kNext = 1;
constexpr uint16_t kIndirect = 4;

struct Desc {
  uint64_t addr;
  uint32_t len;
  uint16_t flags;
  uint16_t next;
};

std::optional<Desc> read_desc(GuestMemory& memory, uint64_t gpa) {
  std::array<uint8_t, 16> b{};
  if (!memory.read(gpa, b)) return std::nullopt;
  return Desc{load_le(b, 0, 8), static_cast<uint32_t>(load_le(b, 8, 4)), static_cast<uint16_t>(load_le(b, 12, 2)),
              static_cast<uint16_t>(load_le(b, 14, 2))};
}

// Inside the table of an indirect head: nested INDIRECT, or a chain longer than the queue.
std::optional<std::string_view> table_quirk(GuestMemory& memory, const Desc& head, uint16_t queue_size) {
  if (head.len == 0 || head.len % 16 != 0) return std::nullopt;  // both refuse the table
  const uint64_t entries = head.len / 16;
  uint64_t index = 0;
  for (uint64_t visited = 1; visited <= entries; ++visited) {
    const auto d = read_desc(memory, head.addr + 16 * index);
    if (!d) return std::nullopt;
    if (d->flags & kIndirect) return "an INDIRECT flag inside an indirect table (QEMU: a plain buffer)";
    if (visited > queue_size) return "a chain in an indirect table longer than the queue (QEMU: up to the table's length)";
    if (!(d->flags & kNext) || d->next >= entries) return std::nullopt;
    index = d->next;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> qemu_reads_otherwise(GuestMemory& memory, const QueueLayout& layout, uint16_t head) {
  uint64_t index = head;
  for (uint64_t visited = 0; visited < layout.size; ++visited) {
    const auto d = read_desc(memory, layout.desc + 16 * index);
    if (!d) return std::nullopt;
    if ((d->flags & kIndirect) && visited > 0) {
      return "an indirect descriptor after direct ones (2.7.5.3.2; QEMU: a plain buffer)";
    }
    if (d->flags & kIndirect) {
      if (d->flags & kNext) return "NEXT on an indirect descriptor (QEMU: ignored)";
      return table_quirk(memory, *d, layout.size);
    }
    if (!(d->flags & kNext) || d->next >= layout.size) return std::nullopt;
    index = d->next;
  }
  return std::nullopt;
}

}  // namespace vmemcheck::qemu
