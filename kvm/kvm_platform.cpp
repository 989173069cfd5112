#include "kvm_platform.hpp"

#include <fmt/format.h>

#include "lockstep_kvm_vm.hpp"
#include "mmap_host_memory.hpp"
#include "real_kvm_vm.hpp"
#include "vcpu_probe.hpp"

namespace vmemcheck::kvm {
namespace {

// The probe's memslot takes the first id the machine reserves for other
// consumers, like boot memory would.
constexpr uint32_t kProbeSlotId = 0;

class KvmSession final : public PlatformSession {
 public:
  KvmSession(std::unique_ptr<RealKvmVm> real, ShadowKvm& shadow, std::unique_ptr<VcpuProbe> probe)
      : real_(std::move(real)), lockstep_(*real_, shadow), probe_(std::move(probe)) {}

  KvmVm& vm() override { return lockstep_; }
  HostMemory& host_memory() override { return host_; }
  VcpuAccess* vcpu() override { return probe_.get(); }
  std::vector<std::string> take_mismatches() override {
    auto problems = lockstep_.take_mismatches();
    for (auto& error : probe_->take_errors()) problems.push_back("vCPU probe: " + error);
    return problems;
  }

 private:
  // The machine, destroyed before its session, has deleted its memslots by
  // the time the mappings go; the VM fd closes last.
  std::unique_ptr<RealKvmVm> real_;
  LockstepKvmVm lockstep_;
  std::unique_ptr<VcpuProbe> probe_;
  MmapHostMemory host_;
};

}  // namespace

Result<std::unique_ptr<PlatformSession>> KvmPlatform::start(ShadowKvm& shadow, const MachineConfig& machine) {
  if (machine.reserved_memslots == 0) {
    return Error{"the vCPU probe needs one memslot the machine reserves for other consumers (reserved-memslots >= 1)"};
  }
  if (machine.device_memory_base < kProbeMemorySize) {
    return Error{fmt::format("the device-memory area must start at or above {:#x}: the vCPU probe's memory is "
                             "below it", kProbeMemorySize)};
  }
  auto real = RealKvmVm::create();
  if (!real) return real.error();
  if (shadow.max_memslots() > (*real)->max_memslots()) {
    return Error{fmt::format("the machine asks for {} KVM memslots, this KVM has {}", shadow.max_memslots(),
                             (*real)->max_memslots())};
  }
  // KVM refuses memslots beyond the host's physical address width (with TDP).
  const uint32_t phys_bits = host_phys_bits();
  if (shadow.limits().phys_bits != phys_bits) {
    return Error{fmt::format("the shadow model assumes {} physical address bits, this host has {} "
                             "(set 'machine phys-bits={}')", shadow.limits().phys_bits, phys_bits, phys_bits)};
  }
  auto probe = VcpuProbe::create(**real, kProbeSlotId);
  if (!probe) return probe.error();
  return std::unique_ptr<PlatformSession>(std::make_unique<KvmSession>(std::move(*real), shadow, std::move(*probe)));
}

}  // namespace vmemcheck::kvm
