// QEMU processes kept for the next run with the same command line. Before a
// process is handed out again, its device is reset (requested-size back to
// the start, then system_reset) and must look exactly as right after its
// start (config space, status, offered features, device-memory tree);
// otherwise it is replaced by a fresh one. At most `capacity` idle QEMUs are
// kept: giving back one more ends the one idle longest (a fuzzer's inputs
// name ever new command lines, and each QEMU holds its own memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "result.hpp"
#include "virtio_mem_pci.hpp"

namespace vmemcheck::qemu {

class QemuPool {
 public:
  explicit QemuPool(size_t capacity = kUnbounded);
  static constexpr size_t kUnbounded = static_cast<size_t>(-1);
  ~QemuPool();
  // A device of this geometry: a reset one from the pool, or a fresh one.
  // Error QemuSanitizerReport, with reset_reported(), when QEMU's sanitizer
  // reported while a pooled QEMU was reset: a finding of the sequence it
  // ran before, never swallowed by starting a fresh one.
  Result<std::unique_ptr<VirtioMemPci>> take(const std::string& binary, const QemuGeometry& geometry);
  bool reset_reported() const { return reset_reported_; }
  void give_back(const std::string& binary, const QemuGeometry& geometry, std::unique_ptr<VirtioMemPci> device);
  // Ends every idle QEMU (QMP quit where a coverage profile is wanted).
  void clear();
  size_t started() const { return started_; }
  size_t reused() const { return reused_; }
  size_t refused() const { return refused_; }  // resets that did not give a fresh device
  size_t evicted() const { return evicted_; }  // idle QEMUs ended to stay within the capacity

 private:
  struct Entry;
  static Result<bool> reset_for_reuse(VirtioMemPci& device, const Entry& entry);
  void evict_beyond_capacity();
  std::vector<Entry> entries_;
  size_t capacity_;
  uint64_t clock_ = 0;  // counts give_back()s: an idle entry's age
  size_t started_ = 0, reused_ = 0, refused_ = 0, evicted_ = 0;
  bool reset_reported_ = false;
};

}  // namespace vmemcheck::qemu
