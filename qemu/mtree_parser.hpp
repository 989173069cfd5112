// QEMU's `info mtree`, read back into the regions core/machine/mtree.hpp
// writes, so a device's memory is compared as values, not as text.
#pragma once

#include <string_view>
#include <vector>

#include "mtree.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

// One line: "START-LAST (prio P, TYPE): NAME" or "...: alias NAME @TARGET
// OFFSET-LAST", indented two spaces a level (depth = indent / 2). Error
// (QemuProtocol): a line of another shape.
Result<MtreeRegion> parse_mtree_line(std::string_view line);

// The device-memory container of address space "memory" in the whole
// `info mtree` text, and every region inside it; depths count from the
// container (0). Error (QemuProtocol): no such container, or a line inside
// it that does not parse.
Result<std::vector<MtreeRegion>> device_memory_tree(std::string_view text);

// A device's own regions inside that tree: the region starting at `addr`
// right below the container and what lies inside it, depths counted from it
// (as device_regions() gives them for the core). Empty if there is none.
std::vector<MtreeRegion> device_subtree(const std::vector<MtreeRegion>& tree, uint64_t addr);

}  // namespace vmemcheck::qemu
