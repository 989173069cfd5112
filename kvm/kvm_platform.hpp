// The real-KVM platform: each machine gets a fresh VM whose memslot calls go
// to KVM and to the shadow model in lockstep, mmap host memory, and a vCPU
// probe for the guest's view (invariant 7 checked by a real vCPU).
#pragma once

#include "platform.hpp"

namespace vmemcheck::kvm {

class KvmPlatform final : public Platform {
 public:
  std::string name() const override { return "kvm"; }
  Result<std::unique_ptr<PlatformSession>> start(ShadowKvm& shadow, const MachineConfig& machine) override;
};

}  // namespace vmemcheck::kvm
