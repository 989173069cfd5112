// fuzz_kvm_lockstep: the ops target's inputs (corpus/ops/) on real KVM. Every
// memslot call goes to /dev/kvm and to the shadow model in lockstep (their
// return codes must match), and a vCPU checks the guest's view, besides the
// reference model and the invariants. It runs only where kvm_usable() says
// so (natively on Linux x86 KVM, or inside the TCG guest of
// tests/kvm/run-in-tcg-guest); elsewhere it stops at start-up with the reason.
#include <cstdio>
#include <cstdlib>

#include "check.hpp"
#include "kvm_platform.hpp"
#include "real_kvm_vm.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (auto usable = vmemcheck::kvm::kvm_usable(); !usable) {
    std::fprintf(stderr, "fuzz_kvm_lockstep: KVM cannot be used here: %s\n", usable.error().message.c_str());
    std::exit(1);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static vmemcheck::kvm::KvmPlatform platform;
  vmemcheck::fuzz::run_checked(vmemcheck::fuzz::Target::Ops, {data, size}, &platform);
  return 0;
}
