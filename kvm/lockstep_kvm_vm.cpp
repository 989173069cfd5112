#include "lockstep_kvm_vm.hpp"

#include <fmt/format.h>

namespace vmemcheck::kvm {

int LockstepKvmVm::set_user_memory_region(const KvmRegion& region) {
  const int real = real_.set_user_memory_region(region);
  const int shadow = shadow_.set_user_memory_region(region);
  if (real != shadow) {
    mismatches_.push_back(fmt::format("{}: KVM answered {}, the shadow model {}", describe(region),
                                      real == 0 ? "0" : errno_name(real), shadow == 0 ? "0" : errno_name(shadow)));
  }
  return real;
}

}  // namespace vmemcheck::kvm
