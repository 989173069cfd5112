#include "qemu_edges.hpp"

#include <sys/ipc.h>
#include <sys/shm.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include <fmt/format.h>

// libFuzzer reads the bytes of this section after each input as coverage
// counters (its "extra counters"); without libFuzzer (the replay build) it
// is an array nobody reads.
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t
    qemu_edge_counters[vmemcheck::fuzz::QemuEdges::kMapSize];

namespace vmemcheck::fuzz {

Result<QemuEdges> QemuEdges::share() {
  const int id = ::shmget(IPC_PRIVATE, kMapSize, IPC_CREAT | 0600);
  if (id < 0) return Error{fmt::format("shmget of QEMU's edge map: {}", std::strerror(errno))};
  void* map = ::shmat(id, nullptr, 0);
  if (map == reinterpret_cast<void*>(-1)) {
    const int error = errno;
    ::shmctl(id, IPC_RMID, nullptr);
    return Error{fmt::format("shmat of QEMU's edge map: {}", std::strerror(error))};
  }
  // Marked for removal now, so that no segment outlives a killed fuzzer:
  // Linux still lets the QEMUs attach it while one process has it attached.
  ::shmctl(id, IPC_RMID, nullptr);
  ::setenv("VMEMCHECK_EDGE_MAP", fmt::format("{},0,{}", id, kMapSize).c_str(), 1);
  return QemuEdges(static_cast<uint8_t*>(map));
}

QemuEdges::QemuEdges(QemuEdges&& other) noexcept
    : map_(std::exchange(other.map_, nullptr)), seen_(std::move(other.seen_)), edges_seen_(other.edges_seen_) {}

QemuEdges::~QemuEdges() {
  if (map_) ::shmdt(map_);
}

void QemuEdges::before_input() { std::memset(map_, 0, kMapSize); }

void QemuEdges::after_input() {
  for (uint32_t i = 0; i < kMapSize; ++i) {
    const uint8_t taken = map_[i] != 0;
    qemu_edge_counters[i] = taken;
    if (taken && !seen_[i]) {
      seen_[i] = 1;
      ++edges_seen_;
    }
  }
}

}  // namespace vmemcheck::fuzz
