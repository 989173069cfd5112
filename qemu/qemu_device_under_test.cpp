#include "qemu_device_under_test.hpp"

#include <fmt/format.h>

#include "mtree_parser.hpp"
#include "units.hpp"

namespace vmemcheck::qemu {

using namespace scenario;

namespace {

// A known difference (docs/qemu.md), skipped on both sides with its verdict.
constexpr std::string_view kIndexTooFarAhead =
    "an available index more than the queue size ahead: a device error (DESIGN §6, the core), which QEMU's "
    "virtqueue_split_pop does not check (it serves ring entries modulo the size); not asked of QEMU";

constexpr std::string_view kMigrationWithScenarioQueue =
    "a migration while the scenario's queue is set up: QEMU's destination checks the ring indices in guest memory "
    "(\"VQ 0 size < last_avail_idx - used_idx\"), and a scenario's rings are not zeroed as a driver's are "
    "(virtio 1.2 4.1.5.1.3), which the core does not model";

// A chain QEMU did not use. QEMU refuses a malformed chain (virtqueue_pop)
// and a request it cannot serve (a protocol violation) alike, with
// virtio_error, which sets NEEDS_RESET; which of the two it was, QEMU does
// not show: the core's outcome names it, and QEMU's is worded the same.
void mark_unused(Outcome& o, std::optional<uint16_t> head, const Outcome* core) {
  const std::string which = head ? fmt::format("the chain at head {}", *head) : "a chain past an available index too far ahead";
  const bool violation = core && core->kind == Outcome::Kind::Answered && !core->fault && core->error_reason &&
                         core->answers.size() == o.answers.size() + 1 && !core->answers.back().response;
  const std::string reason = fmt::format("QEMU did not use {} and needs a reset (virtio_error)", which);
  if (violation) {
    o.answers.push_back({std::nullopt, core->answers.back().state_request, 0});
    o.error_reason = reason;
  } else {
    o.fault = reason;
  }
}

std::optional<std::string> stream_edit(const Migrate& m) {
  for (const auto& [key, value] : m.overrides) {
    if (key == "stream") return value;
  }
  return std::nullopt;
}

// The stream edits whose QEMU counterpart is a destination whose property differs.
bool mismatching_destination(const std::string& edit) {
  return edit == "addr" || edit == "region-size" || edit == "block-size" || edit == "node";
}

// The device an op names, if it names one.
std::optional<std::string> named_device(const Op& op) {
  return std::visit([](const auto& o) -> std::optional<std::string> {
    if constexpr (requires { { o.device } -> std::convertible_to<std::string>; }) {
      return std::string(o.device);
    } else {
      return std::nullopt;
    }
  }, op);
}

}  // namespace

QemuDeviceUnderTest::QemuDeviceUnderTest(std::string binary, QemuDeviceProfile profile, QemuPool* pool)
    : binary_(std::move(binary)),
      profile_(std::move(profile)),
      pool_(pool),
      same_space_(profile_.dynamic_memslots) {}

QemuDeviceUnderTest::~QemuDeviceUnderTest() {
  // A QEMU left busy (its migration held) is reusable once that is cancelled.
  if (device_ && device_->busy() && !device_->set_busy(false)) broken_ = true;
  if (pool_ && device_ && parked_.empty() && !broken_ && !migrated_away_ && !removed_any_) pool_->give_back(binary_, geometry_, std::move(device_));
}

Op QemuDeviceUnderTest::adapt(const Op& op) {
  if (const auto* m = std::get_if<ConfigureMachine>(&op); m && !device_) {
    // Where the scenario's area starts: its device goes there (apply() takes it over).
    const uint64_t base = std::max(m->machine.device_memory_base, kQemuDeviceMemoryBase);
    adapted_base_ = base;
    if (!same_space_) return op;
    ConfigureMachine adapted = *m;
    adapted.machine.device_memory_size += base - kQemuDeviceMemoryBase;
    adapted.machine.device_memory_base = kQemuDeviceMemoryBase;
    adapted.kvm.max_memslots = KvmLimits{}.max_memslots;
    return adapted;
  }
  if (const auto* a = std::get_if<AddDevice>(&op); a && (!device_ || ops_on_machine_ == 0)) {
    DeviceConfig wanted = a->config;
    // The first device sits where the scenario's first fit would put it (the
    // core places the others, and QEMU follows).
    if (same_space_ && !wanted.addr && !device_) wanted.addr = scenario_base_;
    auto on_qemu = as_on_qemu(wanted, profile_);
    if (on_qemu && !unexpressible_device(*on_qemu)) return AddDevice{*on_qemu};
  }
  return op;
}

std::optional<std::string> QemuDeviceUnderTest::unexpressible_device(const DeviceConfig& config) const {
  // QEMU's device-memory region: the space plus 1 GiB of alignment room.
  const uint64_t area_end = same_space_ ? machine_.device_memory_base + machine_.device_memory_size + GiB : 0;
  const bool large = same_space_ && area_end > max_area_end(false);
  if (auto why = inexpressible(config, machine_.numa_nodes, area_end, large)) return "not expressible on QEMU: " + *why;
  // The core's own options of its count and fixed modes have no QEMU
  // property: on a mode QEMU has, they cannot be expressed (on the others,
  // QEMU runs its nearest mode, and a refusal is the core's alone).
  if (memslot_mode_on_qemu(config.mode) &&
      (config.memslots != DeviceConfig{}.memslots || config.fixed_slot_size != DeviceConfig{}.fixed_slot_size)) {
    return std::string("not expressible on QEMU: memslots= or slot-size=");
  }
  // 7.2 gets a device-memory area just fitting its device, not the
  // scenario's: an address outside the scenario's area cannot be judged there.
  const uint64_t area_base = machine_.device_memory_base;
  if (!same_space_ && config.addr &&
      (*config.addr < area_base || *config.addr - area_base > machine_.device_memory_size ||
       config.region_size > machine_.device_memory_size - (*config.addr - area_base))) {
    return "an address outside the scenario's device-memory area, which QEMU " + std::string(profile_.name) +
           "'s machine (sized to its device) does not have";
  }
  return std::nullopt;
}

// Why QEMU does not start this device (beside those it has), if it does not.
std::optional<std::string> QemuDeviceUnderTest::add_unsupported(const AddDevice& add, const FirstDevice* first) const {
  if (device_ && further(add.config.id)) return std::nullopt;
  if ((device_ || emptied_machine_) && ops_on_machine_ > 0) {
    return "a device added after other ops: QEMU starts its devices together (hot-plug is not driven)";
  }
  if (device_ && parked_.size() + 1 >= VirtioMemPci::kMaxDevices) {
    return fmt::format("more than {} devices in one QEMU", VirtioMemPci::kMaxDevices);
  }
  // A further device restarts QEMU with all of them: one the core refused
  // (its id taken, its range overlapping another's) is not asked of QEMU.
  if (device_ && first && !first->outcome.is_ok()) {
    return std::string("a further device the core refused: QEMU's devices start together, so it is not asked");
  }
  // A device of a mode QEMU lacks runs there as its nearest one and takes
  // another number of the machine's memslots (a static one: one), so the
  // memslot decision of a dynamic device added beside it, which shares
  // them, would differ (found by fuzz_qemu: a mode=count device's 38
  // memslots in the core, one in QEMU, then 5 memslots against QEMU's 6).
  // On a QEMU without dynamic memslots, the new device's own decision is
  // not compared either.
  const auto nearest = [&](const DeviceConfig& c) { return !memslot_mode_on_qemu(c.mode); };
  if (device_ && add.config.mode == MemslotMode::Dynamic && memslot_mode_on_qemu(MemslotMode::Dynamic) &&
      (nearest(config_) || std::ranges::any_of(parked_, [&](const Parked& p) { return nearest(p.config); }))) {
    return "a dynamic device beside one QEMU runs in its nearest mode (with other memslots than the core's): its "
           "memslot decision would differ";
  }
  if (device_ && first && first->device && !same_space_) {
    DeviceConfig placed = add.config;
    placed.addr = first->device->config.addr;
    if (auto why = unexpressible_device(placed)) return why;
  }
  if (auto on_qemu = as_on_qemu(add.config, profile_); !on_qemu) {
    return "not expressible on QEMU " + std::string(profile_.name) + ": " + on_qemu.error().message;
  }
  if (auto why = unexpressible_device(add.config)) return why;
  // The machine's KVM memslot budget (kvm-memslots=, vhost) has no QEMU counterpart under TCG.
  if (first && first->outcome.code == ErrorCode::MemslotBudget) {
    return "refused by the machine's memslot budget, which QEMU under TCG does not have";
  }
  // QEMU runs a device of a memslot mode it lacks as its nearest one, so it
  // cannot judge that mode's own options and rules (memslots=, slot-size=,
  // Firecracker's unplugged-inaccessible): a refusal of such a device is the core's alone.
  if (first && !first->outcome.is_ok() && !memslot_mode_on_qemu(add.config.mode)) {
    return fmt::format("the core refused a mode={} device, a mode QEMU {} does not have", name(add.config.mode),
                       profile_.name);
  }
  return std::nullopt;
}

std::optional<std::string> QemuDeviceUnderTest::unsupported(const Op& op, const FirstDevice* first) const {
  if (std::holds_alternative<ConfigureMachine>(op)) {
    if (device_ || emptied_machine_) return "the machine is set up once, before the device";
    // QEMU judges a machine's phys-bits (apply()); the rest of it (KVM's and
    // vhost's memslots) has no QEMU counterpart under TCG.
    if (first && !first->outcome.is_ok() && (first->outcome.code != ErrorCode::PhysBits || !same_space_)) {
      return "a machine the core refused for what this QEMU does not have (its memslot limits, or 7.2's own machine)";
    }
    return std::nullopt;
  }
  if (const auto* a = std::get_if<AddDevice>(&op)) return add_unsupported(*a, first);
  if (std::holds_alternative<SetupQueue>(op) || std::holds_alternative<Poke>(op) || std::holds_alternative<Kick>(op)) {
    if (!parked_.empty()) return "the scenario's own rings with several devices in one QEMU: not driven";
    return raw_ring_unsupported(op);
  }
  const auto not_here = [&](const std::string& id) -> std::optional<std::string> {
    if (!on_device(id)) return "not on the device QEMU runs";
    return std::nullopt;
  };
  const bool raw_queue = device_ && device_->raw_queue_enabled();
  if ((std::holds_alternative<GuestRequest>(op) || std::holds_alternative<RawRequest>(op)) && raw_queue) {
    return "a request through the driver's own queue while the scenario's queue is set up";
  }
  if (const auto* g = std::get_if<GuestRequest>(&op)) return not_here(g->device);
  if (const auto* r = std::get_if<RawRequest>(&op)) {
    if (r->readable > VirtioMemPci::kMaxPart || r->writable > VirtioMemPci::kMaxPart) {
      return "chain parts longer than the driver's 64 KiB buffers";
    }
    return not_here(r->device);
  }
  if (const auto* rs = std::get_if<Resize>(&op)) return not_here(rs->device);
  if (const auto* rm = std::get_if<RemoveDevice>(&op)) {
    if (auto why = not_here(rm->device)) return why;
    if (!geometry_.hotplug_slot) return "the device is on pcie.0, without a hotplug slot (a build without pcie-root-port)";
    if (!rm->by_guest && !profile_.removable) {
      return "remove: QEMU " + std::string(profile_.name) + " does not remove a virtio-mem-pci device (device_del)";
    }
    if (device_->busy()) {
      return "a removal while QEMU's busy-making migration is held: QEMU refuses device_del during any migration";
    }
    return std::nullopt;
  }
  if (const auto* v = std::get_if<VirtioReset>(&op)) {
    if (auto why = not_here(v->device)) return why;
    if (v->function_level && !geometry_.hotplug_slot) {
      return "virtio-reset flr: the device sits on pcie.0 (a build without pcie-root-port), where virtio-pci has no "
             "PCI Express capability and so no FLR";
    }
    return std::nullopt;
  }
  const bool busy = device_ && device_->busy();
  if (std::holds_alternative<SystemReset>(op)) {
    if (busy) return "a system reset while QEMU's busy-making migration is held before its switchover";
    return device_ ? std::nullopt : std::optional<std::string>("not on the device QEMU runs");
  }
  if (const auto* b = std::get_if<SetBusy>(&op)) {
    if (auto why = not_here(b->device)) return why;
    if (!parked_.empty()) {
      return "busy with several devices in one QEMU: QEMU's busy is a held migration of the whole machine, the "
             "core's busy one device's";
    }
    // 7.2 leaves a cancelled migration in "postmigrate", where it refuses
    // every later migration ("Can't migrate the vm that was paused due to
    // previous migration"); 10.0 goes back to prelaunch.
    if (!profile_.dynamic_memslots) {
      return "busy: QEMU " + std::string(profile_.name) + " cannot migrate again after a cancelled migration";
    }
    return std::nullopt;
  }
  if (const auto* mg = std::get_if<Migrate>(&op)) {
    if (auto why = not_here(mg->device)) return why;
    if (busy) return "a migration while QEMU's busy-making migration is held before its switchover";
    if (!parked_.empty()) return "a migration of a machine with several devices: not driven";
    if (removed_any_) return "a migration of a machine that lost a device: its destination is not started alike";
    if (raw_queue) return std::string(kMigrationWithScenarioQueue);
    // The destination would be a second QEMU writing a second trace, with
    // dirty logging on the source's slots: not compared (docs/qemu-on-kvm.md).
    if (accel_ == "kvm") return "a migration under --accel kvm";
    // A stream whose device properties mismatch the destination's: QEMU's
    // counterpart is a destination started with that property changed, which
    // virtio-mem's sanity checks must refuse as the core refuses the stream.
    const std::optional<std::string> edit = stream_edit(*mg);
    if (edit && !mismatching_destination(*edit)) {
      return "stream=" + *edit + ": a migration stream QEMU would have to corrupt";
    }
    if (edit) return std::nullopt;
    if (first && !first->outcome.is_ok()) {
      return "the core refused the destination (" + to_text(first->outcome) + "), so QEMU does not migrate";
    }
    return std::nullopt;
  }
  if (const auto* f = std::get_if<NegotiateFeatures>(&op)) {
    if (auto why = not_here(f->device)) return why;
    if (needs_reset(f->device)) return "features: QEMU's negotiation resets the device, which needs a reset";
    if (raw_queue) return "features: QEMU's negotiation resets the device and its queue, the core keeps the scenario's";
    return std::nullopt;
  }
  if (std::holds_alternative<Expect>(op)) return "both sides' config spaces are compared after every op instead";
  if (std::holds_alternative<Checkpoint>(op)) return "a recorded QEMU's checkpoint: this QEMU's tree is compared after every op";
  if (std::holds_alternative<ShowMtree>(op) || std::holds_alternative<ShowSlots>(op)) {
    return compare_memslots_ ? "the device-memory trees are compared after every op instead"
                             : "memslots are not compared for this device (see the notes)";
  }
  if (std::holds_alternative<GuestAccess>(op)) return "guest reads and writes: the driver does not access device memory";
  return "not expressible on QEMU (faults, vhost)";
}

bool QemuDeviceUnderTest::on_device(const std::string& id) const {
  if (!device_) return false;
  return id == device_id_ || std::ranges::any_of(parked_, [&](const Parked& p) { return p.id == id; });
}

bool QemuDeviceUnderTest::needs_reset(const std::string& id) const {
  if (id == device_id_) return needs_reset_;
  for (const Parked& p : parked_) {
    if (p.id == id) return p.needs_reset;
  }
  return false;
}

void QemuDeviceUnderTest::select(const std::string& id) {
  if (id == device_id_) return;
  for (Parked& p : parked_) {
    if (p.id != id) continue;
    std::swap(p.device, device_);
    std::swap(p.id, device_id_);
    std::swap(p.config, config_);
    std::swap(p.geometry, geometry_);
    std::swap(p.compare_memslots, compare_memslots_);
    std::swap(p.needs_reset, needs_reset_);
    return;
  }
}

bool QemuDeviceUnderTest::memslot_mode_on_qemu(MemslotMode mode) const {
  return mode == MemslotMode::Static || (mode == MemslotMode::Dynamic && profile_.dynamic_memslots);
}

bool QemuDeviceUnderTest::memslots_comparable(MemslotMode mode) {
  if (memslot_mode_on_qemu(mode)) return true;
  notes_.insert(fmt::format("memslots not compared: QEMU {} has no mode={}", profile_.name, name(mode)));
  return false;
}

uint64_t QemuDeviceUnderTest::address(const Address& addr) const {
  return addr.relative ? config_.addr.value_or(0) + addr.value : addr.value;
}

Result<Outcome> QemuDeviceUnderTest::add_device(const DeviceConfig& wanted, const FirstDevice* first) {
  DeviceConfig config = wanted;
  std::string memdev = config.memdev.empty() ? "mem0" : config.memdev;
  // Where the core placed it, under the name the core gave its backend.
  if (first && first->device) {
    config.addr = first->device->config.addr;
    memdev = first->device->memdev;
  }
  QemuGeometry g{config.id, memdev, config.region_size, config.block_size, config.requested_size, config.addr,
                 config.unplugged_inaccessible, std::nullopt, config.node, machine_.numa_nodes,
                 same_space_ ? machine_.device_memory_size : 0, profile_.ioeventfd,
                 same_space_ && machine_.device_memory_base + machine_.device_memory_size + GiB > max_area_end(false),
                 accel_, kvm_trace_, std::nullopt, {}};
  if (accel_ == "kvm") g.smm = machine_.smm;
  if (profile_.dynamic_memslots) g.dynamic_memslots = config.mode == MemslotMode::Dynamic;
  for (const DeviceConfig& d : further_) {
    g.further.push_back({d.id, d.memdev.empty() || d.memdev == g.memdev ? "mem-" + d.id : d.memdev, d.region_size, d.block_size,
                         d.requested_size, d.addr.value_or(0),
                         profile_.dynamic_memslots ? std::optional(d.mode == MemslotMode::Dynamic) : std::nullopt});
  }
  // Preallocation makes each plug touch its blocks: kept to devices whose
  // requests preallocate at most 256 MiB (64 blocks of 4 MiB) and whose
  // backend is at most 4 GiB, so that a plug answers within the driver's
  // 20 s and a QEMU holds at most 4 GiB (a resize to 8 GiB and a plug of 51
  // blocks of 128 MiB did not answer in 20 s on the instrumented build).
  g.prealloc = prealloc_ && config.region_size <= 4 * GiB && config.block_size <= 4 * MiB;
  g.qemu_defaults = qemu_defaults_;
  g.late_migration = late_migration_;
  g.shared_memory = shared_memory_;
  g.hotplug_slot = profile_.hotplug_slots;
  if (device_) return add_to_machine(config, g);
  auto started = pool_ ? pool_->take(binary_, g) : VirtioMemPci::start(binary_, g);
  if (!started) {
    if (started.error().code == ErrorCode::QemuRefusedDevice) return Outcome::refused(started.error());
    return started.error();
  }
  device_ = std::move(*started);
  device_id_ = config.id;
  config_ = config;
  geometry_ = g;
  compare_memslots_ = memslots_comparable(config.mode);
  auto version = device_->qemu_version();
  if (!version) return version.error();
  version_text_ = *version;
  auto state = device_->config();
  if (!state) return state.error();
  config_.addr = state->addr;
  return Outcome::ok(fmt::format("addr={:#x} features={:#x}", state->addr, device_->offered_features()));
}

Result<Outcome> QemuDeviceUnderTest::add_to_machine(const DeviceConfig& config, const QemuGeometry& g) {
  // The devices so far (any order: each is found by its id), then the new one.
  std::vector<Parked> devices = std::move(parked_);
  parked_.clear();
  devices.push_back(Parked{std::move(device_), device_id_, config_, geometry_, compare_memslots_, false});
  std::vector<QemuGeometry> geometries;
  for (const Parked& p : devices) geometries.push_back(p.geometry);
  geometries.push_back(g);
  // A single device's QEMU goes back to the pool as it started (no op ran on it).
  if (pool_ && devices.size() == 1 && !broken_) pool_->give_back(binary_, geometries.front(), std::move(devices.front().device));
  for (Parked& p : devices) p.device.reset();  // the old QEMU ends before the new one starts
  // If QEMU refuses the machine, it has no device left: ops on the others are then not run on it.
  auto started = VirtioMemPci::start_together(binary_, geometries);
  if (!started) {
    if (started.error().code == ErrorCode::QemuRefusedDevice) return Outcome::refused(started.error());
    return started.error();
  }
  for (size_t i = 0; i < devices.size(); ++i) devices[i].device = std::move((*started)[i]);
  parked_ = std::move(devices);
  device_ = std::move(started->back());
  device_id_ = config.id;
  config_ = config;
  geometry_ = g;
  needs_reset_ = false;
  compare_memslots_ = memslots_comparable(config.mode);
  auto state = device_->config();
  if (!state) return state.error();
  config_.addr = state->addr;
  return Outcome::ok(fmt::format("addr={:#x} features={:#x}", state->addr, device_->offered_features()));
}

Result<Outcome> QemuDeviceUnderTest::configure_machine(const ConfigureMachine& m, const FirstDevice* first) {
  machine_ = m.machine;
  scenario_base_ = adapted_base_;
  // QEMU starts the machine with the device, but judges its phys-bits with or
  // without one: a machine that sets them, or that the core refused for
  // them, gets QEMU's verdict on the machine alone (one more start; the rest
  // meet QEMU's check when their device starts). 7.2's machine is not the
  // scenario's: it gets a space just fitting its device.
  const bool refused_for_phys_bits = first && first->outcome.code == ErrorCode::PhysBits;
  if (!same_space_ || (m.kvm.phys_bits == KvmLimits{}.phys_bits && !refused_for_phys_bits)) return Outcome::ok();
  // QEMU builds the machine after it connects its sockets: it stands once QMP answers.
  auto started = [&]() -> Status {
    auto process = QemuProcess::launch(machine_probe(binary_, m.machine, m.kvm.phys_bits));
    if (!process) return process.error();
    return QmpClient(**process).handshake();
  }();
  if (started) return Outcome::ok("(QEMU started the machine)");
  if (started.error().code == ErrorCode::PhysBits) return Outcome::refused(started.error());
  return started.error();
}

// The destination's device with the property a stream edit mismatches
// changed, so that it still starts where it can (QEMU's sanity checks then
// refuse the migrated state) and is refused at start where it cannot.
void QemuDeviceUnderTest::mismatch(QemuGeometry& g, const std::string& edit) const {
  const uint64_t alignment = std::max(g.block_size, 2 * MiB);
  if (edit == "addr") {
    g.addr = config_.addr.value_or(kQemuDeviceMemoryBase) + alignment;  // within the area's 1 GiB of alignment room
  } else if (edit == "region-size") {
    g.region_size += alignment;
  } else if (edit == "block-size") {
    const uint64_t doubled = 2 * g.block_size;
    const bool fits = g.region_size % doubled == 0 && g.requested_size % doubled == 0;
    g.block_size = fits || g.block_size < 2 * MiB ? doubled : g.block_size / 2;
  } else if (edit == "node") {
    g.node = static_cast<uint16_t>(g.node + 1);
  }
}

Result<Outcome> QemuDeviceUnderTest::migrate(const Migrate& m) {
  DeviceConfig destination = config_;
  for (const auto& [key, value] : m.overrides) {
    // A corrupted stream fails on the core, which QEMU then does not run;
    // a fault armed for the destination's backend has no QEMU counterpart
    // and, if it did not fire on the core either, changes nothing.
    if (key == "stream" || key == "fail") continue;
    if (auto applied = apply_device_option(destination, key, value); !applied) return applied.error();
  }
  // The destination is started with the destination's properties: what
  // QEMU's sanity checks compare with the migrated state (memaddr, backend
  // size, block size, node) included.
  QemuGeometry g = geometry_;
  if (profile_.dynamic_memslots) g.dynamic_memslots = destination.mode == MemslotMode::Dynamic;
  g.region_size = destination.region_size;
  g.block_size = destination.block_size;
  g.node = destination.node;
  g.addr = destination.addr;
  const std::optional<std::string> edit = stream_edit(m);
  if (edit) mismatch(g, *edit);
  const uint64_t plugged = device_->config() ? device_->config()->plugged_size : 0;
  if (auto migrated = device_->migrate(binary_, g, plugged); !migrated) {
    // The destination refused the device (at start) or its state: the source carries on.
    const ErrorCode code = migrated.error().code;
    if (code == ErrorCode::QemuRefusedDevice) {
      return Outcome::refused(Error{migrated.error().message});
    }
    return migrated.error();
  }
  compare_memslots_ = memslots_comparable(destination.mode);
  management_.reset();  // the destination's is read afresh
  geometry_ = g;
  config_.mode = destination.mode;
  migrated_away_ = true;
  return Outcome::ok();
}

Result<Outcome> QemuDeviceUnderTest::remove_device(bool by_guest) {
  if (by_guest) {
    if (auto ejected = device_->eject(); !ejected) return ejected.error();
  } else {
    auto refusal = device_->remove();
    if (!refusal) return refusal.error();
    if (*refusal) return Outcome::refused(Error{**refusal});
  }
  removed_any_ = true;
  management_.reset();
  // Another device of the machine takes the removed one's place (select()
  // parks the removed one, which then goes); without one, the machine runs on empty.
  if (parked_.empty()) {
    emptied_machine_ = std::move(device_);
    device_id_.clear();
    return Outcome::ok();
  }
  select(parked_.back().id);
  parked_.pop_back();
  return Outcome::ok();
}

std::optional<std::string> QemuDeviceUnderTest::raw_ring_unsupported(const Op& op) const {
  if (const auto* q = std::get_if<SetupQueue>(&op)) {
    if (!on_device(q->device)) return "not on the device QEMU runs";
    if (needs_reset_) return "a queue set up while the device needs a reset: QEMU's driver sets it up through a virtio reset";
    if (!RawQueue::in_low_ram(q->layout)) return "queue areas outside the low RAM (below 640 KiB) both machines have";
    return std::nullopt;
  }
  if (const auto* p = std::get_if<Poke>(&op)) {
    if (!device_) return "a poke before QEMU runs a device";
    if (!RawQueue::in_low_ram(p->gpa, p->bytes.size())) return "a poke outside the low RAM (below 640 KiB) both machines have";
    return std::nullopt;
  }
  if (!on_device(std::get<Kick>(op).device)) return "not on the device QEMU runs";
  if (device_->raw_queue_enabled() && !needs_reset_) {
    auto too_far = device_->raw_index_too_far_ahead();
    if (too_far && *too_far) return std::string(kIndexTooFarAhead);
    auto otherwise = device_->raw_chain_read_otherwise();
    if (otherwise && *otherwise) {
      return fmt::format("a chain QEMU reads otherwise than the spec and the core: {}; not asked of QEMU", **otherwise);
    }
  }
  return std::nullopt;
}

Status QemuDeviceUnderTest::clear_low_ram_once() {
  if (low_ram_cleared_) return ok_status();
  low_ram_cleared_ = true;
  return device_->clear_low_ram();
}

Result<Outcome> QemuDeviceUnderTest::set_up_queue(const SetupQueue& q, const FirstDevice* first) {
  if (auto cleared = clear_low_ram_once(); !cleared) return cleared.error();
  // QEMU's transport takes any queue size up to its maximum and checks no
  // alignment (virtio_queue_set_num): the core's refusal of a layout is not
  // QEMU's to judge. Both are left without the scenario's queue.
  if (first && !first->outcome.is_ok()) {
    notes_.insert("queue layouts the core refuses are not judged by QEMU (its transport has no such check)");
    if (auto reset = device_->virtio_reset(); !reset) return reset.error();
    return Outcome::refused(Error{"QEMU not asked: the core refused the layout"});
  }
  if (auto used = device_->use_raw_queue(q.layout); !used) return used.error();
  return Outcome::ok();
}

Result<Outcome> QemuDeviceUnderTest::poke(const Poke& p) {
  if (auto cleared = clear_low_ram_once(); !cleared) return cleared.error();
  if (auto written = device_->write_memory(p.gpa, p.bytes); !written) return written.error();
  return Outcome::ok();
}

Result<Outcome> QemuDeviceUnderTest::kick(const FirstDevice* first) {
  if (!device_->raw_queue_enabled()) return Outcome{Outcome::Kind::Idle, "no queue"};
  if (needs_reset_) return Outcome{Outcome::Kind::Idle, "device needs reset"};  // QEMU ignores a broken device's notify
  auto kicked = device_->kick_raw_queue();
  if (!kicked) return kicked.error();
  Outcome o{Outcome::Kind::Answered};
  for (const RawAnswer& a : kicked->used) o.answers.push_back({a.response, a.state_request, a.used_len});
  if (kicked->served_past_index) {
    o.answers.push_back({});
    o.fault = fmt::format("QEMU served {} chains past an available index too far ahead", kicked->served_past_index);
  }
  if (kicked->needs_reset) mark_unused(o, kicked->unused_head, first ? &first->outcome : nullptr);
  if (o.answers.empty() && !o.fault) return Outcome{Outcome::Kind::Idle};
  return o;
}

Result<Outcome> QemuDeviceUnderTest::apply(const Step& step, const FirstDevice* first) {
  if (auto id = named_device(step.op)) select(*id);
  if (device_ && !std::holds_alternative<AddDevice>(step.op)) {
    ++ops_on_machine_;
    if (!parked_.empty()) ++ops_with_several_devices_;
  }
  auto outcome = [&]() -> Result<Outcome> {
    const Op& op = step.op;
    if (const auto* m = std::get_if<ConfigureMachine>(&op)) return configure_machine(*m, first);
    if (const auto* a = std::get_if<AddDevice>(&op)) {
      if (device_ && further(a->config.id)) return Outcome::ok("(started with the first device)");
      return add_device(a->config, first);
    }
    const auto answered = [&](uint16_t type, uint64_t addr, uint16_t nb, uint64_t readable, uint64_t writable) -> Result<Outcome> {
      auto answer = device_->request({type, addr, nb, readable, writable});
      if (!answer) return answer.error();
      Outcome o = Outcome::answered(answer->response, type == static_cast<uint16_t>(RequestType::State));
      o.answers.back().used_length = answer->used_len;
      return o;
    };
    if (const auto* g = std::get_if<GuestRequest>(&op)) {
      if (plant_sanitizer_report_ && g->type == RequestType::State) {
        if (auto planted = device_->oversized_qtest_read(); !planted) return planted.error();
      }
      return answered(static_cast<uint16_t>(g->type), address(g->addr), g->nb_blocks, kRequestSize, kResponseSize);
    }
    if (const auto* r = std::get_if<RawRequest>(&op)) {
      return answered(r->type, address(r->addr), r->nb_blocks, r->readable, r->writable);
    }
    if (const auto* rs = std::get_if<Resize>(&op)) {
      auto refused = device_->resize(rs->requested);
      if (!refused) return refused.error();
      return *refused ? Outcome::refused(Error{**refused}) : Outcome::ok();
    }
    if (std::holds_alternative<SystemReset>(op)) {
      if (auto reset = device_->system_reset(); !reset) return reset.error();
      for (Parked& p : parked_) {
        if (auto reset = p.device->reinitialise(); !reset) return reset.error();
      }
      return Outcome::ok();
    }
    if (const auto* v = std::get_if<VirtioReset>(&op)) {
      if (auto reset = v->function_level ? device_->function_level_reset() : device_->virtio_reset(); !reset) {
        return reset.error();
      }
      return Outcome::ok();
    }
    if (const auto* mg = std::get_if<Migrate>(&op)) return migrate(*mg);
    if (const auto* rm = std::get_if<RemoveDevice>(&op)) return remove_device(rm->by_guest);
    if (const auto* b = std::get_if<SetBusy>(&op)) {
      if (auto set = device_->set_busy(b->busy, config_.region_size); !set) return set.error();
      return Outcome::ok();
    }
    if (const auto* q = std::get_if<SetupQueue>(&op)) return set_up_queue(*q, first);
    if (const auto* p = std::get_if<Poke>(&op)) return poke(*p);
    if (std::holds_alternative<Kick>(op)) return kick(first);
    if (const auto* f = std::get_if<NegotiateFeatures>(&op)) {
      auto kept = device_->try_features(f->driver_features);
      if (!kept) return kept.error();
      return *kept ? Outcome::ok("(FEATURES_OK kept)") : Outcome::refused(Error{"FEATURES_OK refused"});
    }
    return Error{"QEMU was asked to run " + to_text(op) + ", which it does not support"};
  }();
  if (!outcome) broken_ = true;
  return outcome;
}

const DeviceConfig* QemuDeviceUnderTest::further(const std::string& id) const {
  for (const DeviceConfig& d : further_) {
    if (d.id == id) return &d;
  }
  return nullptr;
}

Result<std::optional<DeviceSnapshot>> QemuDeviceUnderTest::snapshot(const std::string& id) {
  if (!on_device(id)) return std::optional<DeviceSnapshot>();
  select(id);
  auto state = device_->read_state(compare_memslots_);
  if (!state) {
    broken_ = true;
    return state.error();
  }
  DeviceSnapshot s;
  s.config = state->config;
  s.status = state->status;
  s.needs_reset = (state->status & kStatusNeedsReset) != 0;
  needs_reset_ = s.needs_reset;
  s.offered_features = device_->offered_features() & kDeviceFeatureBits;
  s.accepted_features = device_->accepted_features() & kDeviceFeatureBits;
  s.memdev = geometry_.memdev;
  // QMP's view only changes with the config space it mirrors (plugged and
  // requested size): read again when that changed, or the QEMU did.
  if (!management_ || management_config_ != state->config || management_of_ != device_.get()) {
    auto management = device_->management_view();
    if (!management) {
      broken_ = true;
      return management.error();
    }
    management_ = std::move(*management);
    management_config_ = state->config;
    management_of_ = device_.get();
  }
  s.management = management_;
  if (compare_memslots_) {
    auto decided = device_->decided_memslots();
    if (!decided) {
      broken_ = true;
      return decided.error();
    }
    s.decision = std::move(*decided);
    s.memory = device_subtree(*state->tree, state->config.addr);
  }
  return std::optional<DeviceSnapshot>(std::move(s));
}

}  // namespace vmemcheck::qemu
