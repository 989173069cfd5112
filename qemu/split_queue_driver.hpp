// A driver's side of one split virtqueue (virtio 1.x, 2.7) in guest RAM,
// over qtest: a chain of at most two descriptors (the readable request, the
// writable response) published in the available ring, the notify, and the
// used ring read back in the same round trip: QEMU services the queue
// synchronously on the notify write (with ioeventfd off), without interrupts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qemu_process.hpp"
#include "result.hpp"
#include "virtio_pci_transport.hpp"
#include "wire.hpp"

namespace vmemcheck::qemu {

// A chain as the driver builds it: the readable part holds the 24-byte
// request (truncated or padded with zeros), the writable part takes the answer.
struct Chain {
  uint16_t type = 0;
  uint64_t addr = 0;
  uint16_t nb_blocks = 0;
  uint64_t readable = kRequestSize;
  uint64_t writable = kResponseSize;
};

struct Answer {
  std::optional<Response> response;  // none: the chain was not used
  uint32_t used_len = 0;
};

class SplitQueueDriver {
 public:
  // The largest readable or writable part a chain may have (the driver's buffers).
  static constexpr uint64_t kMaxPart = 0x10000;

  // The driver of device `index` (0-3) of one machine: its rings lie
  // kRingsStride bytes after those of device index - 1. The request and
  // response buffers are shared: requests are served one at a time.
  explicit SplitQueueDriver(unsigned index = 0);
  static constexpr unsigned kMaxDevices = 4;

  // Where the rings are, for the transport's queue registers.
  QueueRings rings() const;
  // The commands that clear the rings and ask for no interrupts, before the
  // queue is enabled; the indices start again from 0.
  std::vector<std::string> reset_commands(const VirtioPciTransport::Queue& queue);
  // Publishes the chain, notifies and reads what the device did. Error: the
  // used ring moved by more than one, named another head, or the response
  // is not one (QemuProtocol).
  Result<Answer> request(QemuProcess& process, const Chain& chain);

 private:
  uint64_t desc_ = 0, avail_ = 0, used_ = 0;
  VirtioPciTransport::Queue queue_;
  uint16_t avail_idx_ = 0, used_idx_ = 0;
};

}  // namespace vmemcheck::qemu
