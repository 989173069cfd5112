// Where a scenario runs: the KVM that a machine's memslots go to, the host
// memory behind them, and how a vCPU sees guest memory. The default platform
// is the shadow KVM model alone; kvm/ adds real KVM in lockstep with the
// shadow and a vCPU probe. The core never sees a platform: the runner builds
// a machine over the VM and host memory a platform session hands it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backend.hpp"
#include "host_memory.hpp"
#include "kvm_vm.hpp"
#include "machine.hpp"
#include "result.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {

// A vCPU's 8-byte loads and stores at guest-physical addresses. Each
// answers false when the access exited to the VMM: no memslot there.
class VcpuAccess {
 public:
  virtual ~VcpuAccess() = default;
  virtual bool load(uint64_t gpa, uint64_t& value) = 0;
  virtual bool store(uint64_t gpa, uint64_t value) = 0;
};

// One machine's lifetime on a platform.
class PlatformSession {
 public:
  virtual ~PlatformSession() = default;
  // The VM the machine's memslot calls go to; every call must reach the
  // session's shadow model too, which invariant 6 reads.
  virtual KvmVm& vm() = 0;
  virtual HostMemory& host_memory() = 0;
  // Guest accesses as a vCPU makes them; null: the runner reads the host
  // memory behind the memslots instead.
  virtual VcpuAccess* vcpu() { return nullptr; }
  // Disagreements between the platform and the shadow model since the last call.
  virtual std::vector<std::string> take_mismatches() { return {}; }
};

class Platform {
 public:
  virtual ~Platform() = default;
  virtual std::string name() const = 0;
  // Starts a session for a machine whose shadow model is `shadow` (it outlives the session).
  virtual Result<std::unique_ptr<PlatformSession>> start(ShadowKvm& shadow, const MachineConfig& machine) = 0;
};

// The shadow KVM model alone, over sparse host memory: pure, fast, anywhere.
Platform& shadow_platform();

}  // namespace vmemcheck
