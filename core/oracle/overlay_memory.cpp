#include "overlay_memory.hpp"

namespace vmemcheck {

bool OverlayMemory::distrusted(uint64_t gpa, uint64_t size) const {
  for (const Range& r : distrusted_) {
    if (gpa < r.start + r.size && r.start < gpa + size) return true;
  }
  return false;
}

bool OverlayMemory::read(uint64_t gpa, std::span<uint8_t> bytes) {
  if (distrusted(gpa, bytes.size())) stale_ = true;
  if (!below_.read(gpa, bytes)) return false;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (const auto it = written_.find(gpa + i); it != written_.end()) bytes[i] = it->second;
  }
  return true;
}

// Writes where the memory below has no memory fail, as they would there.
bool OverlayMemory::write(uint64_t gpa, std::span<const uint8_t> bytes) {
  if (distrusted(gpa, bytes.size())) stale_ = true;
  if (!below_.accessible(gpa, bytes.size())) return false;
  for (size_t i = 0; i < bytes.size(); ++i) written_[gpa + i] = bytes[i];
  return true;
}

bool OverlayMemory::accessible(uint64_t gpa, uint64_t size) const {
  if (distrusted(gpa, size)) stale_ = true;
  return below_.accessible(gpa, size);
}

}  // namespace vmemcheck
