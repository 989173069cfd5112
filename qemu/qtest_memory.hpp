// QEMU's guest memory as the GuestMemory interface, read over qtest: what
// the reference virtqueue walks to find where QEMU put its answer to a chain
// (raw_queue.hpp). Read only: the driver writes through its own commands.
#pragma once

#include <optional>

#include "backend.hpp"
#include "qemu_process.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

class QtestMemory final : public GuestMemory {
 public:
  explicit QtestMemory(QemuProcess& process) : process_(process) {}
  // False when qtest refused or the process failed (its error is then kept).
  bool read(uint64_t gpa, std::span<uint8_t> bytes) override;
  bool write(uint64_t, std::span<const uint8_t>) override { return false; }
  // Every address reads over qtest (unbacked ones as 0xff or zero): what
  // QEMU's own virtqueue_pop decides is asked of QEMU, not of this view.
  bool accessible(uint64_t gpa, uint64_t size) const override { return size == 0 || gpa + size - 1 >= gpa; }
  const std::optional<Error>& failure() const { return failure_; }

 private:
  QemuProcess& process_;
  std::optional<Error> failure_;
};

}  // namespace vmemcheck::qemu
