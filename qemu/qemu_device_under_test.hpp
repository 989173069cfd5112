// A real QEMU's virtio-mem-pci as a device under test (device_under_test.hpp),
// driven over qtest and QMP by virtio_mem_pci.hpp: one q35 machine started
// with -S when the scenario adds its device; devices the scenario adds before
// any other op runs start together in one QEMU (a new one for each), each
// driven apart. Ops QEMU cannot express (busy, faults, vhost, guest accesses,
// a device added after other ops) are unsupported, with the reason. Raw rings (queue, poke, kick) run in the low
// guest RAM both machines have (raw_queue.hpp). The core models the release's
// device profile: adapt() gives it QEMU's memory-device space and the
// profile's features.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "device_under_test.hpp"
#include "qemu_pool.hpp"
#include "qemu_release.hpp"
#include "virtio_mem_pci.hpp"

namespace vmemcheck::qemu {

class QemuDeviceUnderTest final : public scenario::DeviceUnderTest {
 public:
  // `pool`: where the QEMU comes from and goes back to (null: started for
  // this run and ended with it).
  QemuDeviceUnderTest(std::string binary, QemuDeviceProfile profile, QemuPool* pool);
  ~QemuDeviceUnderTest() override;

  std::string label() const override { return "QEMU"; }
  scenario::Op adapt(const scenario::Op& op) override;
  std::optional<std::string> unsupported(const scenario::Op& op, const scenario::FirstDevice* first) const override;
  Result<scenario::Outcome> apply(const scenario::Step& step, const scenario::FirstDevice* first) override;
  Result<std::optional<scenario::DeviceSnapshot>> snapshot(const std::string& id) override;
  std::vector<std::string> notes() const override { return {notes_.begin(), notes_.end()}; }

  // Before the first STATE request, make QEMU's sanitizer report
  // (VirtioMemPci::oversized_qtest_read): --plant-sanitizer-report.
  void plant_sanitizer_report() { plant_sanitizer_report_ = true; }
  // QEMU on a real /dev/kvm (-accel kvm) with its kvm_set_user_memory trace
  // events written to `trace_file` (vmemcheck qemu --accel kvm).
  void run_on_kvm(std::string trace_file) {
    accel_ = "kvm";
    kvm_trace_ = std::move(trace_file);
  }
  // Devices the scenario adds after the first, each at its own addr=: QEMU
  // starts them with the first one and does not drive them (their requests
  // are skipped); their `device` ops run on both sides, so their memslots
  // reach both KVMs.
  void start_further_devices(std::vector<DeviceConfig> devices) { further_ = std::move(devices); }
  // Its devices with prealloc=on (QemuGeometry::prealloc): --prealloc.
  void preallocate() { prealloc_ = true; }
  // Its devices with QEMU's defaults where they agree (QemuGeometry::qemu_defaults): --qemu-defaults.
  void use_qemu_defaults() { qemu_defaults_ = true; }
  // Its devices with x-early-migration=off (QemuGeometry::late_migration): --late-migration.
  void migrate_late() { late_migration_ = true; }
  // Its devices' backends with share=on (QemuGeometry::shared_memory): --shared-memory.
  void share_memory() { shared_memory_ = true; }
  // Ops QEMU ran with several devices in its machine (their adds aside).
  size_t ops_with_several_devices() const { return ops_with_several_devices_; }
  // "10.0.2 (Debian ...)" once a QEMU ran, else empty.
  const std::string& version() const { return version_text_; }

 private:
  std::optional<std::string> unexpressible_device(const DeviceConfig& config) const;
  std::optional<std::string> add_unsupported(const scenario::AddDevice& add, const scenario::FirstDevice* first) const;
  // `first`: where the first device under test placed it, if one did.
  Result<scenario::Outcome> add_device(const DeviceConfig& config, const scenario::FirstDevice* first);
  // A further device: QEMU starts again with all of them (no op ran on the others).
  Result<scenario::Outcome> add_to_machine(const DeviceConfig& config, const QemuGeometry& geometry);
  Result<scenario::Outcome> configure_machine(const scenario::ConfigureMachine& machine,
                                              const scenario::FirstDevice* first);
  Result<scenario::Outcome> migrate(const scenario::Migrate& migrate);
  // The host's device_del and the guest's eject, or (`by_guest`) the eject alone.
  Result<scenario::Outcome> remove_device(bool by_guest);
  void mismatch(QemuGeometry& destination, const std::string& stream_edit) const;
  std::optional<std::string> raw_ring_unsupported(const scenario::Op& op) const;
  Result<scenario::Outcome> set_up_queue(const scenario::SetupQueue& queue, const scenario::FirstDevice* first);
  Result<scenario::Outcome> poke(const scenario::Poke& poke);
  Result<scenario::Outcome> kick(const scenario::FirstDevice* first);
  Status clear_low_ram_once();
  bool on_device(const std::string& id) const;
  bool needs_reset(const std::string& id) const;
  // Makes the device `id` the one the fields below describe (a parked one swaps places).
  void select(const std::string& id);
  // Whether this release has the memslot mode (static; dynamic since 8.2).
  bool memslot_mode_on_qemu(MemslotMode mode) const;
  // Whether QEMU has the core's memslot mode, so that memslots are compared; a note when not.
  bool memslots_comparable(MemslotMode mode);
  uint64_t address(const scenario::Address& addr) const;

  std::string binary_;
  QemuDeviceProfile profile_;
  QemuPool* pool_;
  // With dynamic memslots the memslot decision depends on the memory-device
  // space (maxmem less boot RAM), so the core's machine takes QEMU's: from
  // 4 GiB on, reaching as far as the scenario's area does, with QEMU's limits
  // under TCG (no KVM limit, no vhost: KVM's 32764 memslots decide alike,
  // being above 509 and 256). 7.2 keeps the scenario's machine and gets a
  // space just fitting the device.
  bool same_space_;
  MachineConfig machine_;
  uint64_t scenario_base_ = MachineConfig{}.device_memory_base;
  uint64_t adapted_base_ = MachineConfig{}.device_memory_base;  // of the machine op adapt() saw last
  std::unique_ptr<VirtioMemPci> device_;
  std::string device_id_;
  DeviceConfig config_;
  QemuGeometry geometry_;
  bool compare_memslots_ = false;
  bool needs_reset_ = false;    // as the last snapshot read it
  bool migrated_away_ = false;  // a migrated VM runs in a QEMU started with -incoming: not for reuse
  bool removed_any_ = false;    // its machine lost a device: not for reuse
  // The driver of the machine's last device after its removal: it holds the
  // QEMU, which runs on without devices until the run ends.
  std::unique_ptr<VirtioMemPci> emptied_machine_;
  bool broken_ = false;         // it failed to answer once: not for reuse
  bool low_ram_cleared_ = false;  // before the run's first raw-ring op
  bool plant_sanitizer_report_ = false;
  bool prealloc_ = false;
  bool qemu_defaults_ = false;
  bool late_migration_ = false;
  bool shared_memory_ = false;
  // The last management view read, the config space it went with and the driver it came from.
  std::optional<scenario::ManagementView> management_;
  ConfigSpace management_config_;
  const VirtioMemPci* management_of_ = nullptr;
  std::set<std::string> notes_;
  std::string version_text_;
  std::string accel_ = "tcg";
  std::string kvm_trace_;
  std::vector<DeviceConfig> further_;
  const DeviceConfig* further(const std::string& id) const;
  // The machine's other devices while one is driven: the fields above
  // describe the device the last op named, select() swaps another in.
  struct Parked {
    std::unique_ptr<VirtioMemPci> device;
    std::string id;
    DeviceConfig config;
    QemuGeometry geometry;
    bool compare_memslots = false;
    bool needs_reset = false;
  };
  std::vector<Parked> parked_;
  size_t ops_on_machine_ = 0;  // ops QEMU ran since it started, its devices' adds aside
  size_t ops_with_several_devices_ = 0;
};

}  // namespace vmemcheck::qemu
