// The devices under test of one comparison with QEMU: the core first (with a
// planted difference when asked, to show differences are caught), then one
// QEMU, run by scenario::run_compared. `vmemcheck qemu` runs its scenarios
// and fuzz sequences through it, and fuzz_qemu each of its inputs: one
// comparison, whoever makes the ops.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "compared_run.hpp"
#include "core_device_under_test.hpp"
#include "planted_difference.hpp"
#include "qemu_device_under_test.hpp"

namespace vmemcheck::qemu {

struct Planted {
  std::optional<scenario::Plant> difference;  // on the core's side
  bool sanitizer_report = false;              // QEMU's (QemuDeviceUnderTest::plant_sanitizer_report)
};

// How QEMU's devices start: vmemcheck qemu's --prealloc, --qemu-defaults,
// --late-migration and --shared-memory (QemuDeviceUnderTest's setters of
// those names say what each does).
struct StartOptions {
  bool prealloc = false;
  bool qemu_defaults = false;
  bool late_migration = false;
  bool shared_memory = false;

  // The options as vmemcheck qemu takes them, each after a space ("" for none): to replay a finding.
  std::string flags() const;
};

class CoreBesideQemu {
 public:
  // `pool`: where QEMU comes from and goes back to (null: one started for
  // this run); `platform`: the core's (null: the shadow model alone).
  CoreBesideQemu(const std::string& binary, const QemuDeviceProfile& profile, QemuPool* pool, Planted planted = {},
                 Platform* platform = nullptr);
  // QEMU's devices start so from the next device added on.
  void start_with(const StartOptions& options);
  // Not copied or moved: the planted difference holds the core by reference.
  CoreBesideQemu(const CoreBesideQemu&) = delete;
  CoreBesideQemu& operator=(const CoreBesideQemu&) = delete;
  // Stops at the first difference; the scenario's expectations are not
  // checked (ops skipped on one side may change outcomes; the sides are
  // compared instead).
  scenario::ComparedRun run(const scenario::Scenario& scenario,
                            const std::function<void(const scenario::ComparedStep&)>& on_step = {});
  // "10.0.2 (Debian ...)" once QEMU ran, else empty.
  const std::string& version() const { return qemu_.version(); }
  QemuDeviceUnderTest& qemu() { return qemu_; }

 private:
  scenario::CoreDeviceUnderTest core_;
  std::optional<scenario::PlantedDifference> planted_;
  QemuDeviceUnderTest qemu_;
};

// QEMU's last memslot decision in a run, as decision_text() words it.
const std::string& qemu_decision(const scenario::ComparedRun& run);

}  // namespace vmemcheck::qemu
