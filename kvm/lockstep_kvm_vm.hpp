// Real KVM and the shadow model in lockstep: every memslot call goes to both
// and their answers must be equal, including the calls KVM must refuse. A
// difference is recorded with the call and both answers; this is what keeps
// the shadow model honest.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kvm_vm.hpp"

namespace vmemcheck::kvm {

class LockstepKvmVm final : public KvmVm {
 public:
  LockstepKvmVm(KvmVm& real, KvmVm& shadow) : real_(real), shadow_(shadow) {}

  // Returns real KVM's answer: the machine lives with what KVM did.
  int set_user_memory_region(const KvmRegion& region) override;
  // The shadow's limits: a scenario may lower them below KVM's, never raise.
  uint32_t max_memslots() const override { return shadow_.max_memslots(); }
  uint32_t address_spaces() const override { return shadow_.address_spaces(); }

  std::vector<std::string> take_mismatches() { return std::exchange(mismatches_, {}); }

 private:
  KvmVm& real_;
  KvmVm& shadow_;
  std::vector<std::string> mismatches_;
};

}  // namespace vmemcheck::kvm
