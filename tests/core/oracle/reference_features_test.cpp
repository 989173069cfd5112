#include "reference_features.hpp"

#include <gtest/gtest.h>

namespace vmemcheck {
namespace {

DeviceConfig offering(bool acpi, bool unplugged_inaccessible, bool persistent_suspend) {
  DeviceConfig config;
  config.acpi = acpi;
  config.unplugged_inaccessible = unplugged_inaccessible;
  config.persistent_suspend = persistent_suspend;
  return config;
}

TEST(ReferenceFeatures, EachOptionOffersItsSpecBit) {
  EXPECT_EQ(reference_offered_features(offering(false, false, false)), 0u);
  EXPECT_EQ(reference_offered_features(offering(true, false, false)), 0x1u);
  EXPECT_EQ(reference_offered_features(offering(false, true, false)), 0x2u);
  EXPECT_EQ(reference_offered_features(offering(false, false, true)), 0x4u);
}

TEST(ReferenceFeatures, UnofferedBitsAreDroppedNotRefused) {
  const auto n = reference_negotiation(offering(true, true, false), 0x2 | 0x4 | 0x800);
  EXPECT_TRUE(n.features_ok);
  EXPECT_EQ(n.negotiated, 0x2u);
}

TEST(ReferenceFeatures, AnOfferedUnpluggedInaccessibleMustBeAccepted) {
  EXPECT_FALSE(reference_negotiation(offering(true, true, true), 0x1 | 0x4).features_ok);
  // An unoffered bit does not stand in for it.
  EXPECT_FALSE(reference_negotiation(offering(true, true, false), 0x1 | 0x8).features_ok);
  // Not offered: nothing to accept.
  EXPECT_TRUE(reference_negotiation(offering(true, false, false), 0x0).features_ok);
}

}  // namespace
}  // namespace vmemcheck
