// A vCPU that reads and writes chosen guest-physical addresses, to check what
// the guest really sees (DESIGN §3 invariant 7). It runs a 20-byte program of
// ours in 64-bit mode over identity-mapped 1 GiB pages covering the whole
// 46-bit guest-physical space, so any GPA of a large device is reachable; it
// reports each access with an `out`. An access to a GPA without a memslot
// exits to us with KVM_EXIT_MMIO first: that is how "unmapped" is observed.
//
// The program and its page tables live in one 2 MiB memslot at GPA 0 (the
// place of boot memory), with a memslot id the machine reserves for other
// consumers.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "platform.hpp"
#include "real_kvm_vm.hpp"
#include "result.hpp"

namespace vmemcheck::kvm {

inline constexpr uint64_t kProbeMemorySize = 2ull << 20;

struct ProbeAccess {
  uint64_t value = 0;    // what a read returned (0 for an MMIO exit's fill)
  bool mmio_exit = false;  // the GPA had no memslot
};

class VcpuProbe final : public VcpuAccess {
 public:
  // Creates the vCPU in `vm` and maps the probe memory as memslot `slot_id`.
  static Result<std::unique_ptr<VcpuProbe>> create(RealKvmVm& vm, uint32_t slot_id);
  ~VcpuProbe() override;
  VcpuProbe(const VcpuProbe&) = delete;
  VcpuProbe& operator=(const VcpuProbe&) = delete;

  Result<ProbeAccess> read(uint64_t gpa);
  Result<ProbeAccess> write(uint64_t gpa, uint64_t value);

  // VcpuAccess: false when the access exited to MMIO. A vCPU failure is
  // kept for take_errors() and also answers false.
  bool load(uint64_t gpa, uint64_t& value) override;
  bool store(uint64_t gpa, uint64_t value) override;
  std::vector<std::string> take_errors();

 private:
  VcpuProbe(Fd vcpu, void* run, size_t run_size, void* memory);
  Result<ProbeAccess> access(uint64_t op, uint64_t gpa, uint64_t value);

  Fd vcpu_;
  void* run_;  // struct kvm_run, mmapped
  size_t run_size_;
  void* memory_;  // the probe's code and page tables
  std::vector<std::string> errors_;
};

}  // namespace vmemcheck::kvm
