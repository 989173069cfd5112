// Real KVM: /dev/kvm, a VM file descriptor and the memslot ioctl. The only
// place (with the vCPU probe and the mmap host memory) that makes system
// calls; everything above it goes through the core's KvmVm interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fd.hpp"
#include "kvm_vm.hpp"
#include "result.hpp"

namespace vmemcheck::kvm {

// Why /dev/kvm cannot be used here for lockstep with the shadow model (Linux
// x86 KVM), or ok.
Status kvm_usable();

// The host CPU's physical address width (CPUID 0x80000008): with TDP, KVM's
// largest guest-physical address.
uint32_t host_phys_bits();

class RealKvmVm final : public KvmVm {
 public:
  static Result<std::unique_ptr<RealKvmVm>> create();

  int set_user_memory_region(const KvmRegion& region) override;
  uint32_t max_memslots() const override { return max_memslots_; }
  uint32_t address_spaces() const override { return address_spaces_; }

  int system_fd() const { return kvm_.get(); }
  int vm_fd() const { return vm_.get(); }

 private:
  RealKvmVm(Fd kvm, Fd vm, uint32_t max_memslots, uint32_t address_spaces);

  Fd kvm_;
  Fd vm_;
  uint32_t max_memslots_;
  uint32_t address_spaces_;
};

}  // namespace vmemcheck::kvm
