#include "reference_features.hpp"

namespace vmemcheck {
namespace {
// The spec's bit numbers (§5.15.3), not the device's constants.
constexpr unsigned kAcpiPxmBit = 0;
constexpr unsigned kUnpluggedInaccessibleBit = 1;
constexpr unsigned kPersistentSuspendBit = 2;

bool has(uint64_t features, unsigned bit) { return (features >> bit & 1) != 0; }
}  // namespace

uint64_t reference_offered_features(const DeviceConfig& config) {
  uint64_t offered = 0;
  if (config.acpi) offered |= uint64_t{1} << kAcpiPxmBit;
  if (config.unplugged_inaccessible) offered |= uint64_t{1} << kUnpluggedInaccessibleBit;
  if (config.persistent_suspend) offered |= uint64_t{1} << kPersistentSuspendBit;
  return offered;
}

ReferenceNegotiation reference_negotiation(const DeviceConfig& config, uint64_t driver_features) {
  const uint64_t offered = reference_offered_features(config);
  uint64_t negotiated = 0;
  for (unsigned bit = 0; bit < 64; ++bit) {
    if (has(offered, bit) && has(driver_features, bit)) negotiated |= uint64_t{1} << bit;
  }
  const bool refuses = has(offered, kUnpluggedInaccessibleBit) && !has(negotiated, kUnpluggedInaccessibleBit);
  return {!refuses, negotiated};
}

}  // namespace vmemcheck
