// QEMU's virtio-mem-pci driven as a guest driver would, over qtest and QMP,
// composed of the layers below it: the process (qemu_process.hpp), PCI
// configuration access (pci_config.hpp), the virtio-pci modern transport
// (virtio_pci_transport.hpp), one split virtqueue (split_queue_driver.hpp),
// QMP (qmp_client.hpp) and `info mtree` parsing (mtree_parser.hpp). Host
// resize, system reset, migration and the memslot decision go through QMP.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "device_under_test.hpp"
#include "mtree.hpp"
#include "qemu_machine.hpp"
#include "qemu_process.hpp"
#include "qmp_client.hpp"
#include "raw_queue.hpp"
#include "result.hpp"
#include "split_queue_driver.hpp"
#include "virtio_pci_transport.hpp"
#include "wire.hpp"

namespace vmemcheck::qemu {

// What the driver reads after every op: the config space, the device
// status and (when asked for) the device-memory tree of `info mtree`.
struct DeviceState {
  ConfigSpace config;
  uint8_t status = 0;
  std::optional<std::vector<MtreeRegion>> tree;  // the device-memory container and all inside it
  friend bool operator==(const DeviceState&, const DeviceState&) = default;
};

class VirtioMemPci {
 public:
  static Result<std::unique_ptr<VirtioMemPci>> start(const std::string& binary, const QemuGeometry& geometry);
  // Several devices in one machine (qemu_arguments' order), each found on
  // the PCI bus by its id (QMP query-pci's qdev_id) and driven apart: its
  // own BAR and rings. They share the QEMU: a system reset reaches them all
  // (system_reset() on one, reinitialise() on the others); they do not migrate.
  static Result<std::vector<std::unique_ptr<VirtioMemPci>>> start_together(const std::string& binary,
                                                                           std::span<const QemuGeometry> devices);
  static constexpr size_t kMaxDevices = SplitQueueDriver::kMaxDevices;

  static constexpr uint64_t kMaxPart = SplitQueueDriver::kMaxPart;

  Result<Answer> request(const Chain& chain) { return queue_.request(*process_, chain); }
  // The scenario's own queue (raw_queue.hpp): a virtio reset and queue 0 set
  // up at `layout` instead of the driver's own rings, until the next reset.
  Status use_raw_queue(const QueueLayout& layout);
  bool raw_queue_enabled() const { return raw_.enabled(); }
  Result<RawKick> kick_raw_queue() { return raw_.kick(*process_); }
  Result<bool> raw_index_too_far_ahead() { return raw_.index_too_far_ahead(*process_); }
  Result<std::optional<std::string_view>> raw_chain_read_otherwise() { return raw_.read_otherwise(*process_); }
  // The driver writes guest memory (a scenario's poke).
  Status write_memory(uint64_t gpa, std::span<const uint8_t> bytes);
  // Zeroes guest RAM below RawQueue::kLowRamEnd, as a fresh machine has it
  // (a QEMU taken from the pool kept what the last run wrote there).
  Status clear_low_ram();
  Result<ConfigSpace> config();
  // One qtest round trip for the config space and status, with `info mtree`
  // rendered meanwhile when `with_tree`.
  Result<DeviceState> read_state(bool with_tree);
  uint64_t offered_features() const { return transport_.offered(); }
  uint64_t accepted_features() const { return transport_.accepted(); }
  // QMP qom-set requested-size: ok, or QEMU's error message (not an Error: a refusal).
  Result<std::optional<std::string>> resize(uint64_t requested);
  // QMP system_reset, waits for the RESET event, then re-initialises the driver.
  Status system_reset();
  // After a system reset of the machine it shares: places the BAR again and re-initialises.
  Status reinitialise();
  // Hot-unplug, for a device started on a hotplug slot (QemuGeometry::
  // hotplug_slot): QMP device_del, then the guest's eject of the slot. Ok
  // when the device is gone, or QEMU's refusal of device_del (not an
  // Error). The driver must not be used afterwards.
  Result<std::optional<std::string>> remove();
  // The guest's part of a removal alone, unasked: its ACPI _EJ0 method
  // ejecting the slot. Ok when the device is gone.
  Status eject();
  // "vmem0 at 00:02.0": where query-pci found the device.
  const std::string& found_at() const { return found_at_; }
  // A driver that accepts exactly these device feature bits (plus VERSION_1):
  // whether the device kept FEATURES_OK. The driver re-initialises afterwards.
  Result<bool> try_features(uint64_t device_features);
  // Driver-initiated virtio reset (status 0), then re-initialisation.
  Status virtio_reset() { return initialise(); }
  // A PCIe function-level reset (Device Control's Initiate FLR), which QEMU
  // carries out as a cold reset of the function (virtio-pci offers it
  // behind a PCIe port only: a device on a hotplug slot), then the BAR
  // placed again and re-initialisation.
  Status function_level_reset();
  // Migrates the VM to a fresh QEMU of `destination` (started with
  // -incoming, over a UNIX socket) and drives that one from now on; the
  // driver's state (BAR, queue, indices) travels with the VM. A destination
  // that refuses the state (virtio-mem's sanity checks: a changed memaddr,
  // backend size, block size or node) fails the migration: the error is then
  // QemuRefusedDevice (the destination refused the device), and the
  // source, still in prelaunch, is driven on. `plugged`
  // (bytes) sets the deadline: 20 s and 10 s per GiB.
  Status migrate(const std::string& binary, const QemuGeometry& destination, uint64_t plugged);
  // A migration under way, or none: QEMU's virtio-mem answers plug, unplug
  // and unplug-all requests with BUSY only while one is (virtio_mem_is_busy).
  // On: a migration into `cat >/dev/null` that the capability
  // pause-before-switchover holds in pre-switchover, where it stays running
  // until cancelled (no destination QEMU, tens of milliseconds; `region_size`,
  // the device's, sets the deadline: 20 s and 20 s per 128 GiB). Off:
  // migrate_cancel, and the capability off again.
  Status set_busy(bool busy, uint64_t region_size = 0);
  bool busy() const { return busy_; }
  // The memslots the device decided on (QOM children memslot-N[0] of its
  // virtio-backend, mapped or not): their sizes by index. None without
  // dynamic-memslots. Read once: QEMU decides when the device is plugged.
  Result<std::vector<uint64_t>> decided_memslots();
  // The device as QMP shows it (query-memory-devices, qom-get of its own
  // and its proxy's size properties, query-memory-size-summary): the
  // commands go out together, then their replies are read.
  Result<scenario::ManagementView> management_view();
  // "10.0.2 (Debian 1:10.0.2+ds-2+deb13u1~bpo12+1)", from QMP query-version.
  Result<std::string> qemu_version();
  // A qtest read of 2 TiB at once: qtest allocates its buffer whole, more
  // than ASan allows (1 TiB), so an instrumented QEMU reports
  // allocation-size-too-big and ends; an uninstrumented one may try to
  // read it all. Only for vmemcheck qemu --plant-sanitizer-report: a real
  // report from an unpatched QEMU, to show that reports are findings.
  Status oversized_qtest_read();
  // virtio-mem-pci's properties (QMP device-list-properties, what `-device
  // virtio-mem-pci,help` prints) and their defaults: a string default as it
  // is ("on"), others as JSON ("false"), "" when QEMU gives none.
  Result<std::map<std::string, std::string>> property_defaults();

 private:
  explicit VirtioMemPci(unsigned index = 0) : index_(index), queue_(index) {}
  // QMP handshake (when `handshake`), PCI: find the device by its id, its
  // transport (once), place the BAR.
  Status connect(bool handshake = true);
  Status initialise();  // virtio: reset, features, queue, DRIVER_OK
  // A device on a hotplug slot: its pcie-root-port set up as firmware would
  // (bus number, memory window, bus mastering); the device's function behind it.
  Result<std::pair<PciFunction, std::string>> behind_port();

  // Shared by the devices of one machine (start_together); the client is
  // declared after the process it reads, so it ends first.
  std::shared_ptr<QemuProcess> process_;
  std::shared_ptr<QmpClient> qmp_;
  unsigned index_ = 0;  // in its machine: which BAR base and rings
  std::string id_;
  std::optional<std::string> port_;  // hotplug_port(id_) when on a hotplug slot
  std::string found_at_;
  VirtioPciTransport transport_;
  SplitQueueDriver queue_;
  RawQueue raw_;
  std::optional<std::vector<uint64_t>> decided_;
  bool busy_ = false;
};

}  // namespace vmemcheck::qemu
