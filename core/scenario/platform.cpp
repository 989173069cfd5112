#include "platform.hpp"

namespace vmemcheck {
namespace {

class ShadowSession final : public PlatformSession {
 public:
  explicit ShadowSession(ShadowKvm& shadow) : shadow_(shadow) {}
  KvmVm& vm() override { return shadow_; }
  HostMemory& host_memory() override { return host_; }

 private:
  ShadowKvm& shadow_;
  SparseHostMemory host_;
};

class ShadowPlatform final : public Platform {
 public:
  std::string name() const override { return "shadow"; }
  Result<std::unique_ptr<PlatformSession>> start(ShadowKvm& shadow, const MachineConfig&) override {
    return std::unique_ptr<PlatformSession>(std::make_unique<ShadowSession>(shadow));
  }
};

}  // namespace

Platform& shadow_platform() {
  static ShadowPlatform platform;
  return platform;
}

}  // namespace vmemcheck
