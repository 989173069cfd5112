#include "real_kvm_vm.hpp"

#include <cpuid.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace vmemcheck::kvm {

namespace {

Result<Fd> open_kvm() {
  const int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return Error{fmt::format("/dev/kvm: {}", std::strerror(errno))};
  Fd kvm(fd);
  const int version = ioctl(kvm.get(), KVM_GET_API_VERSION, 0);
  if (version != KVM_API_VERSION) {
    return Error{fmt::format("/dev/kvm: KVM API version {}, expected {}", version, KVM_API_VERSION)};
  }
  return kvm;
}

}  // namespace

Status kvm_usable() {
  auto kvm = open_kvm();
  if (!kvm) return kvm.error();
  // The shadow models Linux x86 KVM, which has the SMM address space. Other
  // KVMs (e.g. PVM in some sandboxes) answer memslot calls differently.
  const int spaces = ioctl(kvm->get(), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
  if (spaces < 2) {
    return Error{fmt::format("/dev/kvm has {} address space(s), not x86 KVM's 2 (normal and SMM): it is not the "
                             "KVM the shadow model describes", spaces < 0 ? 0 : spaces)};
  }
  return ok_status();
}

uint32_t host_phys_bits() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(0x80000008, &eax, &ebx, &ecx, &edx) == 0) return 36;  // no leaf: the architectural minimum
  return eax & 0xff;
}

RealKvmVm::RealKvmVm(Fd kvm, Fd vm, uint32_t max_memslots, uint32_t address_spaces)
    : kvm_(std::move(kvm)), vm_(std::move(vm)), max_memslots_(max_memslots), address_spaces_(address_spaces) {}

Result<std::unique_ptr<RealKvmVm>> RealKvmVm::create() {
  auto kvm = open_kvm();
  if (!kvm) return kvm.error();
  const int vm = ioctl(kvm->get(), KVM_CREATE_VM, 0);
  if (vm < 0) return Error{fmt::format("KVM_CREATE_VM: {}", std::strerror(errno))};
  Fd vm_fd(vm);
  const int slots = ioctl(vm_fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
  // KVM_CAP_MULTI_ADDRESS_SPACE answers the number of address spaces (x86: 2 for SMM).
  const int spaces = ioctl(vm_fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_MULTI_ADDRESS_SPACE);
  if (slots <= 0) return Error{"KVM_CAP_NR_MEMSLOTS is not supported"};
  return std::unique_ptr<RealKvmVm>(new RealKvmVm(std::move(*kvm), std::move(vm_fd), static_cast<uint32_t>(slots),
                                                  spaces > 0 ? static_cast<uint32_t>(spaces) : 1));
}

int RealKvmVm::set_user_memory_region(const KvmRegion& r) {
  const kvm_userspace_memory_region region{r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr};
  return ioctl(vm_.get(), KVM_SET_USER_MEMORY_REGION, &region) == 0 ? 0 : -errno;
}

}  // namespace vmemcheck::kvm
