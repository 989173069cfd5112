// An `info mtree`-style view of the device-memory area: the container, each
// device's memslot container and the memslot aliases that are mapped, in
// QEMU's format (seed 002's listings), so runs compare against QEMU's output.
// The regions are values (MtreeRegion); to_text() is the one place that
// writes their lines, and qemu/mtree_parser.hpp reads QEMU's back into them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "machine.hpp"

namespace vmemcheck {

// One line of the tree: "START-LAST (prio P, TYPE): NAME", or for an alias
// "START-LAST (prio P, TYPE): alias NAME @TARGET OFFSET-LAST".
struct MtreeRegion {
  unsigned depth = 0;  // nesting below the first region shown (two spaces a level)
  uint64_t start = 0;
  uint64_t last = 0;   // inclusive, as QEMU prints it
  int priority = 0;
  std::string type{};  // "i/o", "ram", ...
  std::string name{};
  struct Alias {
    std::string target{};  // the aliased region (the memory backend)
    uint64_t offset = 0;
    uint64_t last = 0;
    friend bool operator==(const Alias&, const Alias&) = default;
  };
  std::optional<Alias> alias{};
  friend bool operator==(const MtreeRegion&, const MtreeRegion&) = default;
};

// The name of a device's memory backend: its memdev=, else mem<handle>.
std::string memdev_name(const VirtioMemDevice& device);

std::string to_text(const MtreeRegion& region);
// One line a region, each ending in '\n'.
std::string to_text(const std::vector<MtreeRegion>& regions);

// A device's regions: its own (depth 0) and its mapped memslot aliases (depth 1).
std::vector<MtreeRegion> device_regions(const VirtioMemDevice& device);
// The device-memory container (depth 0), then every device's regions below it.
std::vector<MtreeRegion> device_memory_regions(const Machine& machine);
std::string render_mtree(const Machine& machine);

}  // namespace vmemcheck
