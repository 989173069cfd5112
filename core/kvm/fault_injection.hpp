// A MemslotBackend wrapper that makes chosen calls fail, so the tests and
// fuzzers can check that the core rolls back and stays consistent.
#pragma once

#include <map>
#include <cstdint>
#include <optional>
#include <string_view>

#include "backend.hpp"

namespace vmemcheck {

// Which backend call a fault hits. Unmapping is not a kind: KVM cannot fail
// to delete a live slot, and the core relies on that.
enum class FaultKind { Map, Populate, Discard, Attach };
inline constexpr size_t kFaultKinds = 4;

class FaultInjectingBackend final : public MemslotBackend {
 public:
  explicit FaultInjectingBackend(MemslotBackend& inner) : inner_(inner) {}

  // The (skip + 1)-th next call of `kind` (for `device` only, when given)
  // fails; later calls succeed again.
  // Each (kind, device) pair has its own countdown; arming again replaces it.
  void arm(FaultKind kind, uint32_t skip = 0, std::optional<DeviceHandle> device = std::nullopt) {
    armed_[{kind, device}] = skip;
  }
  void disarm_all() { armed_.clear(); }
  // Drops the faults armed for any device (those armed for one stay).
  void disarm_any_device() {
    std::erase_if(armed_, [](const auto& entry) { return !entry.first.second; });
  }
  bool armed(FaultKind kind, std::optional<DeviceHandle> device = std::nullopt) const {
    return armed_.contains({kind, device});
  }
  uint64_t injected() const { return injected_; }

  Status attach(DeviceHandle device, uint64_t region_size) override;
  void detach(DeviceHandle device) override { inner_.detach(device); }
  // Only a transaction that maps something can be made to fail.
  Status apply(const SlotTransaction& transaction) override;
  Status discard(DeviceHandle device, uint64_t offset, uint64_t size) override;
  Status populate(DeviceHandle device, uint64_t offset, uint64_t size) override;

 private:
  // Counts down the fault armed for this device, then the one for any device;
  // true when this call must fail.
  bool fire(FaultKind kind, DeviceHandle device);

  MemslotBackend& inner_;
  std::map<std::pair<FaultKind, std::optional<DeviceHandle>>, uint32_t> armed_;
  uint64_t injected_ = 0;
};

std::string_view name(FaultKind kind);
std::optional<FaultKind> parse_fault_kind(std::string_view text);

}  // namespace vmemcheck
