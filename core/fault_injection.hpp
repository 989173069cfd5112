// A MemslotBackend wrapper that makes chosen calls fail, so the tests and
// fuzzers can check that the core rolls back and stays consistent.
#pragma once

#include <array>
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

  // The (skip + 1)-th next call of `kind` fails; later calls succeed again.
  void arm(FaultKind kind, uint32_t skip = 0) { armed_[index(kind)] = skip; }
  void disarm_all() { armed_ = {}; }
  bool armed(FaultKind kind) const { return armed_[index(kind)].has_value(); }
  uint64_t injected() const { return injected_; }

  Status attach(DeviceHandle device, uint64_t region_size) override;
  void detach(DeviceHandle device) override { inner_.detach(device); }
  // Only a transaction that maps something can be made to fail.
  Status apply(const SlotTransaction& transaction) override;
  Status discard(DeviceHandle device, uint64_t offset, uint64_t size) override;
  Status populate(DeviceHandle device, uint64_t offset, uint64_t size) override;

 private:
  static size_t index(FaultKind kind) { return static_cast<size_t>(kind); }
  // Counts down an armed fault; true when this call must fail.
  bool fire(FaultKind kind);

  MemslotBackend& inner_;
  std::array<std::optional<uint32_t>, kFaultKinds> armed_{};
  uint64_t injected_ = 0;
};

std::string_view name(FaultKind kind);
std::optional<FaultKind> parse_fault_kind(std::string_view text);

}  // namespace vmemcheck
