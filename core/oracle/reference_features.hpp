// Feature negotiation, written again from the virtio 1.2 spec (§5.15.3 and
// §2.2, "Feature Bits") and QEMU's device (DESIGN §7), sharing no code with
// the device's negotiate_features(): what a device of `config` offers, what
// it keeps of what the driver accepts, and whether it sets FEATURES_OK.
#pragma once

#include <cstdint>

#include "device_config.hpp"

namespace vmemcheck {

struct ReferenceNegotiation {
  bool features_ok = false;
  uint64_t negotiated = 0;  // meaningful when features_ok
};

// Bit 0 ACPI_PXM with acpi=on, bit 1 UNPLUGGED_INACCESSIBLE with
// unplugged-inaccessible=on, bit 2 PERSISTENT_SUSPEND with persistent-suspend=on.
uint64_t reference_offered_features(const DeviceConfig& config);

// The device keeps only bits it offered (a driver "MUST NOT accept a
// feature which the device did not offer", and QEMU masks what it gets with
// its host features), and fails FEATURES_OK when it offered
// UNPLUGGED_INACCESSIBLE and the driver did not take it: that driver might
// read unplugged memory (§5.15.3.2 "MAY fail to operate further"; QEMU
// refuses).
ReferenceNegotiation reference_negotiation(const DeviceConfig& config, uint64_t driver_features);

}  // namespace vmemcheck
