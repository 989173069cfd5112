// A device under test that is the core with a planted difference, to show
// that the comparison loop catches and reports a device that answers or
// maps differently (vmemcheck qemu --plant-difference and
// --plant-memslot-difference, and tests/core/scenario/compared_run_test).
// It changes what the core shows, not the core's code: the planted bugs
// inside the device are the mutation tool's (scripts/planted-bugs).
#pragma once

#include "core_device_under_test.hpp"

namespace vmemcheck::scenario {

enum class Plant {
  Response,  // an acknowledged STATE that finds every block unplugged answers PLUGGED
  Memslot,   // one memslot too many mapped: the first unmapped one, once one is mapped
};

class PlantedDifference final : public DeviceUnderTest {
 public:
  PlantedDifference(CoreDeviceUnderTest& core, Plant plant) : core_(core), plant_(plant) {}

  std::string label() const override { return core_.label(); }
  Op adapt(const Op& op) override { return core_.adapt(op); }
  std::optional<std::string> unsupported(const Op& op, const FirstDevice* first) const override {
    return core_.unsupported(op, first);
  }
  Result<Outcome> apply(const Step& step, const FirstDevice* first) override;
  std::vector<std::string> take_problems() override { return core_.take_problems(); }
  std::string take_output() override { return core_.take_output(); }
  Result<std::optional<DeviceSnapshot>> snapshot(const std::string& id) override;

 private:
  CoreDeviceUnderTest& core_;
  Plant plant_;
};

}  // namespace vmemcheck::scenario
