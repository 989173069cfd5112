#include "core_beside_qemu.hpp"

#include <array>

namespace vmemcheck::qemu {

CoreBesideQemu::CoreBesideQemu(const std::string& binary, const QemuDeviceProfile& profile, QemuPool* pool,
                               Planted planted, Platform* platform)
    : core_(scenario::RunOptions{.platform = platform}), qemu_(binary, profile, pool) {
  if (planted.difference) planted_.emplace(core_, *planted.difference);
  if (planted.sanitizer_report) qemu_.plant_sanitizer_report();
}

std::string StartOptions::flags() const {
  return std::string(prealloc ? " --prealloc" : "") + (qemu_defaults ? " --qemu-defaults" : "") +
         (late_migration ? " --late-migration" : "") + (shared_memory ? " --shared-memory" : "");
}

void CoreBesideQemu::start_with(const StartOptions& options) {
  if (options.prealloc) qemu_.preallocate();
  if (options.qemu_defaults) qemu_.use_qemu_defaults();
  if (options.late_migration) qemu_.migrate_late();
  if (options.shared_memory) qemu_.share_memory();
}

scenario::ComparedRun CoreBesideQemu::run(const scenario::Scenario& scenario,
                                          const std::function<void(const scenario::ComparedStep&)>& on_step) {
  scenario::DeviceUnderTest* first = planted_ ? static_cast<scenario::DeviceUnderTest*>(&*planted_) : &core_;
  const std::array<scenario::DeviceUnderTest*, 2> devices{first, &qemu_};
  return scenario::run_compared(scenario, devices, {.check_expectations = false, .stop_at_first_difference = true},
                                on_step);
}

const std::string& qemu_decision(const scenario::ComparedRun& run) { return run.tallies.back().decision; }

}  // namespace vmemcheck::qemu
