// Guest memory seen through a private layer of writes: reads find what was
// written here first, then the memory below; writes never reach it. The
// reference virtqueue walks a kick over one before the device walks the real
// memory, so both start from the same bytes and the reference's responses
// and used elements stay out of the device's way.
//
// The device's own requests change device memory during a kick (an unplug
// discards, a memslot goes away), which the layer does not model: once
// `distrust()` names such a range, reading or probing inside it marks the
// layer `stale()`, and what the reference saw after that is not evidence.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "backend.hpp"

namespace vmemcheck {

class OverlayMemory final : public GuestMemory {
 public:
  explicit OverlayMemory(GuestMemory& below) : below_(below) {}
  bool read(uint64_t gpa, std::span<uint8_t> bytes) override;
  bool write(uint64_t gpa, std::span<const uint8_t> bytes) override;
  bool accessible(uint64_t gpa, uint64_t size) const override;

  // From now on, [start, start + size) may differ from what the layer shows.
  void distrust(uint64_t start, uint64_t size) { distrusted_.push_back({start, size}); }
  bool stale() const { return stale_; }
  // Every byte written through the layer, by address (the last value).
  const std::map<uint64_t, uint8_t>& written() const { return written_; }
  bool distrusted(uint64_t gpa, uint64_t size) const;

 private:
  struct Range {
    uint64_t start;
    uint64_t size;
  };
  GuestMemory& below_;
  std::map<uint64_t, uint8_t> written_;
  std::vector<Range> distrusted_;
  mutable bool stale_ = false;
};

}  // namespace vmemcheck
