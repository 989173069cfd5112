#include "metadata_measurement.hpp"

#include <algorithm>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "device.hpp"
#include "kvm_slot_backend.hpp"
#include "lockstep_kvm_vm.hpp"
#include "mmap_host_memory.hpp"
#include "real_kvm_vm.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck::kvm {
namespace {

// KVM allocates memslot metadata with kvcalloc(): large arrays come from
// vmalloc, small ones from the slab. VmallocUsed and SUnreclaim count them
// page- and byte-exactly; MemFree does not (allocations served from the
// per-CPU page lists leave it unchanged, by up to several MiB).
Result<uint64_t> kernel_metadata_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  uint64_t total = 0;
  int found = 0;
  for (std::string key; meminfo >> key;) {
    uint64_t kib = 0;
    std::string unit;
    meminfo >> kib;
    if (key != "HugePages_Total:" && key != "HugePages_Free:" && key != "HugePages_Rsvd:" &&
        key != "HugePages_Surp:") {
      meminfo >> unit;
    }
    if (key == "VmallocUsed:" || key == "SUnreclaim:") {
      total += kib * 1024;
      ++found;
    }
  }
  if (found != 2) return Error{"/proc/meminfo lacks VmallocUsed or SUnreclaim"};
  return total;
}

// One fresh VM: the kernel memory that creating the device and plugging
// memory took, and the shadow's prediction.
Result<std::pair<uint64_t, MetadataMeasurement>> measure_once(const MetadataCase& c, uint64_t gpa) {
  auto real = RealKvmVm::create();
  if (!real) return real.error();
  KvmLimits limits;
  limits.phys_bits = host_phys_bits();
  ShadowKvm shadow(limits, MetadataModel{true, false});
  LockstepKvmVm lockstep(**real, shadow);
  MmapHostMemory host;
  KvmSlotBackend backend(lockstep, host, KvmBackendOptions{c.smm, 0, 0});
  constexpr DeviceHandle kHandle = 0;
  if (auto attached = backend.attach(kHandle, c.region_size); !attached) return attached.error();
  DeviceConfig config;
  config.id = "vmem0";
  config.region_size = c.region_size;
  config.block_size = c.block_size;
  config.requested_size = c.region_size;
  config.addr = gpa;
  config.mode = c.mode;

  const auto before = kernel_metadata_bytes();
  if (!before) return before.error();
  auto device = VirtioMemDevice::create(config, c.memslot_limit, kHandle, backend);
  if (!device) return device.error();
  for (uint64_t offset = 0; offset < c.plugged;) {
    const uint64_t blocks = std::min<uint64_t>((c.plugged - offset) / c.block_size, 65535);
    const auto response = (*device)->handle({RequestType::Plug, gpa + offset, static_cast<uint16_t>(blocks)});
    if (!response || response->type != ResponseType::Ack) {
      return Error{fmt::format("{}: plugging [{:#x}, +{:#x}) was answered {}", c.label, offset, blocks * c.block_size,
                               response ? name(response->type) : "nothing")};
    }
    offset += blocks * c.block_size;
  }
  const auto after = kernel_metadata_bytes();
  if (!after) return after.error();
  if (const auto mismatches = lockstep.take_mismatches(); !mismatches.empty()) {
    return Error{fmt::format("{}: lockstep mismatch: {}", c.label, mismatches.front())};
  }
  MetadataMeasurement m;
  m.kvm_slots = shadow.slot_count();
  m.predicted_bytes = shadow.metadata().total();
  device->reset();
  backend.detach(kHandle);
  return std::pair{*after > *before ? *after - *before : 0, m};
}

}  // namespace

Result<MetadataMeasurement> measure_kvm_metadata(const MetadataCase& c, uint64_t gpa, int repeats) {
  std::vector<uint64_t> samples;
  MetadataMeasurement result;
  // The first run warms up the allocator and KVM's caches and is not counted.
  for (int run = 0; run <= repeats; ++run) {
    auto once = measure_once(c, gpa);
    if (!once) return once.error();
    if (run > 0) samples.push_back(once->first);
    result = once->second;
  }
  std::sort(samples.begin(), samples.end());
  result.median_bytes = samples[samples.size() / 2];
  result.min_bytes = samples.front();
  result.max_bytes = samples.back();
  return result;
}

}  // namespace vmemcheck::kvm
