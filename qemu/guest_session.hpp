// A real Linux guest driving QEMU's virtio-mem-pci (issue 24): QEMU runs
// Debian's kernel under TCG with the initramfs of tests/guest/ (virtio_mem.ko
// and guest_memory_check), its device with dynamic-memslots=on. The session
// resizes the device over QMP, waits for the guest to converge (QOM's
// `size`, with a deadline), and at every checkpoint reads QEMU's state
// (QOM, `info mtree`) and asks the guest to check its memory. QEMU's
// virtio_mem_* trace is the recording of every request and answer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "guest_memory_report.hpp"
#include "guest_recording.hpp"
#include "result.hpp"
#include "units.hpp"

namespace vmemcheck::qemu {

// One virtio-mem-pci device and its memory-backend-ram.
struct GuestDevice {
  std::string id;
  std::string memdev;
  uint64_t region_size = 0;
  uint64_t initial_size = 0;  // requested-size at start
};

// The machine of the checked setup: q35, 512 MiB of boot RAM,
// maxmem 8 GiB, a 4 GiB device with 2 MiB blocks; a second device of
// 2 GiB fits in the same memory-device space (item 5: several devices).
struct GuestGeometry {
  uint64_t boot_ram = 512 * MiB;
  uint64_t maxmem = 8 * GiB;
  uint64_t block_size = 2 * MiB;
  std::vector<GuestDevice> devices{{"vmem0", "mem0", 4 * GiB, 256 * MiB}};
};
inline const GuestDevice kSecondGuestDevice{"vmem1", "mem1", 2 * GiB, 128 * MiB};

// One host resize of the plan.
struct PlannedResize {
  size_t device = 0;  // index into GuestGeometry::devices
  uint64_t size = 0;
};

struct GuestSessionOptions {
  std::string binary;  // QEMU 10 (dynamic-memslots)
  std::string kernel;
  std::string initrd;
  std::string trace_path;       // where QEMU writes its virtio_mem_* trace
  std::vector<PlannedResize> resizes;  // in order
  GuestGeometry geometry;
  // Migrations with the guest running (item 3): after each of the first
  // `migrations` resizes' checkpoints, the guest holds its pattern
  // (guest_memory_check hold), QEMU migrates to a fresh QEMU whose devices
  // have dynamic-memslots the other way (on -> off, then off -> on, ...),
  // the guest checks its pattern there, and a checkpoint follows.
  size_t migrations = 0;
  int boot_seconds = 300;      // until the guest's driver is loaded
  int converge_seconds = 240;  // per resize, until QOM's size is the requested size
};

struct GuestSession {
  GuestRecording recording;
  std::vector<GuestMemoryReport> reports;
  double boot_seconds = 0;                 // QEMU's start to the guest's ready line
  std::vector<double> converge_seconds;    // per resize
  std::string qemu_version;
  std::string kernel_release;  // as the guest's ready line gives it
  // Per migration: the pattern the guest held across it, checked afterwards
  // (its pattern_mib, in_device_mib and mismatches), and how long QEMU took.
  std::vector<GuestMemoryReport> held;
  std::vector<double> migration_seconds;
};

// Error: QEMU or the guest failed (a deadline, a crash, an unreadable trace).
Result<GuestSession> run_guest_session(const GuestSessionOptions& options);

// The resize plan: grow, shrink, to zero and back, between 0 and each
// region's size; `count` entries of a fixed list from entry `start` on (it
// repeats), the devices taking turns.
std::vector<PlannedResize> resize_plan(size_t start, size_t count, const GuestGeometry& geometry);

}  // namespace vmemcheck::qemu
