// Chain shapes QEMU's virtqueue_split_pop (10.0.2 and 7.2, hw/virtio/virtio.c)
// reads otherwise than virtio 1.2 §2.7.5.3 and the core do. QEMU looks for
// VIRTQ_DESC_F_INDIRECT on a chain's head only, so:
// - an indirect descriptor after direct ones, which the spec says a device
//   MUST handle (2.7.5.3.2), is taken as a plain buffer of the table's bytes
//   (QEMU deviates from the spec);
// - NEXT on an indirect head is ignored, and an INDIRECT flag inside a table
//   is a plain buffer: both forbidden to the driver (2.7.5.3.1), which the
//   core answers with a fault (DESIGN §6) and QEMU serves;
// - a chain in an indirect table may be as long as the table (up to 1024
//   buffers), where the core stops at the queue size (2.7.5).
// The raw-ring comparison does not ask QEMU about them (docs/qemu.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "backend.hpp"
#include "virtqueue.hpp"

namespace vmemcheck::qemu {

// Why QEMU would read the chain at `head` otherwise, or nullopt.
std::optional<std::string_view> qemu_reads_otherwise(GuestMemory& memory, const QueueLayout& layout, uint16_t head);

}  // namespace vmemcheck::qemu
