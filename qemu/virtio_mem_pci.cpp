#include "virtio_mem_pci.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "mtree_parser.hpp"
#include "qtest_commands.hpp"

namespace vmemcheck::qemu {
namespace {

constexpr uint16_t kVendorVirtio = 0x1af4;
constexpr uint16_t kDeviceVirtioMem = 0x1058;
// The virtio BAR: inside q35's 32-bit PCI hole, 1 MiB apart for each
// further device of a machine (QEMU's virtio-pci BAR is 16 KiB).
constexpr uint64_t kBarBase = 0xe0000000;
constexpr uint64_t kBarStride = 0x100000;
// ICH9's ACPI PCI hotplug registers (QEMU's ACPI_PCIHP_ADDR_ICH9): the eject
// register at +0x08, the bus selector at +0x10.
constexpr uint16_t kAcpiPciHotplugBase = 0x0cc0;
// What a driver accepts of what virtio-mem offers.
constexpr uint64_t kDriverFeatures = kFeatureAcpiPxm | kFeatureUnpluggedInaccessible;

Error refused(std::string_view command, const QmpReply& reply) {
  return Error{fmt::format("{}: {}", command, reply.error), ErrorCode::QemuProtocol};
}

Result<std::unique_ptr<QemuProcess>> launch(const std::string& binary, std::span<const QemuGeometry> devices,
                                            std::vector<std::string> extra = {}) {
  std::vector<std::string> args = qemu_arguments(devices);
  args.insert(args.end(), extra.begin(), extra.end());
  return QemuProcess::launch({binary, args, 20000, refusals(devices)});
}

Result<std::unique_ptr<QemuProcess>> launch(const std::string& binary, const QemuGeometry& geometry,
                                            std::vector<std::string> extra = {}) {
  return launch(binary, std::span(&geometry, 1), std::move(extra));
}

// The PCI function QEMU placed the device `id` at (query-pci's qdev_id), on bus 0.
Result<std::pair<PciFunction, std::string>> function_of(QmpClient& qmp, const std::string& id) {
  auto reply = qmp.execute("query-pci");
  if (!reply) return reply.error();
  if (!reply->ok() || !reply->value->is_array()) return refused("query-pci", *reply);
  for (const nlohmann::json& bus : *reply->value) {
    for (const nlohmann::json& device : bus.value("devices", nlohmann::json::array())) {
      if (device.value("qdev_id", "") != id) continue;
      const auto number = [&](const char* key) { return device.value(key, uint32_t{0}); };
      if (number("bus") != 0) return Error{fmt::format("virtio-mem-pci '{}' on PCI bus {}, not 0", id, number("bus"))};
      const PciFunction function = 0x80000000u | (number("slot") << 11) | (number("function") << 8);
      return std::pair{function, fmt::format("{} at 00:{:02x}.{}", id, number("slot"), number("function"))};
    }
  }
  return Error{fmt::format("query-pci lists no device '{}'", id)};
}

}  // namespace

Result<std::unique_ptr<VirtioMemPci>> VirtioMemPci::start(const std::string& binary, const QemuGeometry& geometry) {
  auto process = launch(binary, geometry);
  if (!process) return process.error();
  std::unique_ptr<VirtioMemPci> d(new VirtioMemPci());
  d->process_ = std::move(*process);
  d->id_ = geometry.id;
  if (geometry.hotplug_slot) d->port_ = hotplug_port(geometry.id);
  if (auto connected = d->connect(); !connected) return connected.error();
  if (auto ready = d->initialise(); !ready) return ready.error();
  return d;
}

Result<std::vector<std::unique_ptr<VirtioMemPci>>> VirtioMemPci::start_together(const std::string& binary,
                                                                                std::span<const QemuGeometry> devices) {
  if (devices.empty() || devices.size() > kMaxDevices) {
    return Error{fmt::format("{} devices in one QEMU (the driver drives 1 to {})", devices.size(), kMaxDevices)};
  }
  auto process = launch(binary, devices);
  if (!process) return process.error();
  std::shared_ptr<QemuProcess> shared = std::move(*process);
  std::vector<std::unique_ptr<VirtioMemPci>> out;
  for (unsigned i = 0; i < devices.size(); ++i) {
    std::unique_ptr<VirtioMemPci> d(new VirtioMemPci(i));
    d->process_ = shared;
    d->id_ = devices[i].id;
    if (devices[i].hotplug_slot) d->port_ = hotplug_port(devices[i].id);
    if (i > 0) d->qmp_ = out.front()->qmp_;
    if (auto connected = d->connect(i == 0); !connected) return connected.error();
    if (auto ready = d->initialise(); !ready) return ready.error();
    out.push_back(std::move(d));
  }
  return out;
}

Status VirtioMemPci::connect(bool handshake) {
  if (handshake) {
    qmp_ = std::make_shared<QmpClient>(*process_);
    if (auto greeted = qmp_->handshake(); !greeted) return greeted;
  }
  auto found = port_ ? behind_port() : function_of(*qmp_, id_);
  if (!found) return found.error();
  auto ids = pci_read(*process_, found->first, 0);
  if (!ids) return ids.error();
  if ((*ids & 0xffff) != kVendorVirtio || (*ids >> 16) != kDeviceVirtioMem) {
    return Error{fmt::format("{}: ids {:#x}, not virtio-mem-pci (vendor {:#x}, device {:#x})", found->second, *ids,
                             kVendorVirtio, kDeviceVirtioMem)};
  }
  found_at_ = found->second;
  auto transport = VirtioPciTransport::probe(*process_, found->first, kBarBase + index_ * kBarStride);
  if (!transport) return transport.error();
  transport_ = std::move(*transport);
  return transport_.enable(*process_);
}

Status VirtioMemPci::initialise() {
  raw_.disable();
  auto kept = transport_.negotiate(*process_, std::nullopt, kDriverFeatures);
  if (!kept) return kept.error();
  if (!*kept) {
    return Error{fmt::format("virtio-mem refused the features {:#x} (offered {:#x})", transport_.accepted(),
                             transport_.offered())};
  }
  auto queue = transport_.select_queue(*process_, 0);
  if (!queue) return queue.error();
  std::vector<std::string> commands = queue_.reset_commands(*queue);
  auto enable = transport_.enable_queue_commands(queue_.rings());
  commands.insert(commands.end(), enable.begin(), enable.end());
  if (auto done = process_->qtest_batch(commands); !done) return done.error();
  return ok_status();
}

Status VirtioMemPci::use_raw_queue(const QueueLayout& layout) {
  // The negotiation starts with a virtio reset: QEMU's indices start from 0.
  auto kept = transport_.negotiate(*process_, std::nullopt, kDriverFeatures);
  if (!kept) return kept.error();
  if (!*kept) return Error{fmt::format("virtio-mem refused the features {:#x}", transport_.accepted())};
  auto queue = transport_.select_queue(*process_, 0);
  if (!queue) return queue.error();
  const auto commands = transport_.enable_queue_commands({layout.desc, layout.avail, layout.used}, layout.size);
  if (auto done = process_->qtest_batch(commands); !done) return done.error();
  raw_.set_up(layout, queue->notify_addr, transport_.status_read_command());
  return ok_status();
}

Status VirtioMemPci::write_memory(uint64_t gpa, std::span<const uint8_t> bytes) {
  if (auto done = process_->qtest(mem_write_command(gpa, bytes)); !done) return done.error();
  return ok_status();
}

Status VirtioMemPci::clear_low_ram() {
  if (auto done = process_->qtest(fmt::format("memset 0 {:#x} 0", RawQueue::kLowRamEnd)); !done) return done.error();
  return ok_status();
}

Result<bool> VirtioMemPci::try_features(uint64_t device_features) {
  auto kept = transport_.negotiate(*process_, device_features, kDriverFeatures);
  if (!kept) return kept.error();
  if (auto ready = initialise(); !ready) return ready.error();
  return *kept;
}

Result<ConfigSpace> VirtioMemPci::config() {
  auto state = read_state(false);
  if (!state) return state.error();
  return state->config;
}

Result<DeviceState> VirtioMemPci::read_state(bool with_tree) {
  const nlohmann::json mtree{{"command-line", "info mtree"}};
  // QEMU renders the tree while it answers the qtest reads.
  if (with_tree) {
    if (auto sent = qmp_->send("human-monitor-command", mtree); !sent) return sent.error();
  }
  auto answers = process_->qtest_batch(transport_.config_and_status_reads(kConfigSize));
  if (!answers) return answers.error();
  uint8_t bytes[kConfigSize] = {};
  for (size_t i = 0; i * 4 < kConfigSize; ++i) {
    auto word = parse_hex((*answers)[i]);
    if (!word) return word.error();
    store_le(bytes, 4 * i, 4, *word);
  }
  DeviceState state;
  ConfigSpace& c = state.config;
  c.block_size = load_le(bytes, 0, 8);
  c.node_id = static_cast<uint16_t>(load_le(bytes, 8, 2));
  c.addr = load_le(bytes, 16, 8);
  c.region_size = load_le(bytes, 24, 8);
  c.usable_region_size = load_le(bytes, 32, 8);
  c.plugged_size = load_le(bytes, 40, 8);
  c.requested_size = load_le(bytes, 48, 8);
  auto status = parse_hex(answers->back());
  if (!status) return status.error();
  state.status = static_cast<uint8_t>(*status);
  if (with_tree) {
    auto reply = qmp_->receive("human-monitor-command info mtree");
    if (!reply) return reply.error();
    if (!reply->ok() || !reply->value->is_string()) {
      return Error{"info mtree answered no text: " + reply->error, ErrorCode::QemuProtocol};
    }
    auto tree = device_memory_tree(reply->value->get<std::string>());
    if (!tree) return tree.error();
    state.tree = std::move(*tree);
  }
  return state;
}

Result<std::optional<std::string>> VirtioMemPci::resize(uint64_t requested) {
  auto reply = qmp_->execute("qom-set", {{"path", "/machine/peripheral/" + id_},
                                         {"property", "requested-size"},
                                         {"value", requested}});
  if (!reply) return reply.error();
  if (reply->ok()) return std::optional<std::string>();
  return std::optional<std::string>(reply->error);
}

Status VirtioMemPci::system_reset() {
  auto reply = qmp_->execute("system_reset");
  if (!reply) return reply.error();
  if (!reply->ok()) return refused("system_reset", *reply);
  if (auto reset = qmp_->wait_event("RESET"); !reset) return reset;
  return reinitialise();
}

Status VirtioMemPci::reinitialise() {
  // A system reset also reset the port's bus numbers and window.
  if (port_) {
    if (auto routed = behind_port(); !routed) return routed.error();
  }
  if (auto enabled = transport_.enable(*process_); !enabled) return enabled;
  return initialise();
}

Status VirtioMemPci::function_level_reset() {
  constexpr uint8_t kPciExpressCapability = 0x10;
  const PciFunction function = transport_.function();
  auto capabilities = pci_capabilities(*process_, function);
  if (!capabilities) return capabilities.error();
  const auto express = std::ranges::find(*capabilities, kPciExpressCapability, &PciCapability::id);
  if (express == capabilities->end()) {
    return Error{fmt::format("{}: no PCI Express capability, so no function-level reset", found_at_)};
  }
  // Device Capabilities (+4) bit 28: FLR offered; Device Control (+8, the
  // low half of its dword) bit 15 initiates it. The Device Status above it
  // is written 0, which changes none of its write-1-to-clear bits.
  auto offered = pci_read(*process_, function, static_cast<uint8_t>(express->offset + 4));
  if (!offered) return offered.error();
  if (!(*offered & (1u << 28))) return Error{fmt::format("{}: the function does not offer FLR", found_at_)};
  auto control = pci_read(*process_, function, static_cast<uint8_t>(express->offset + 8));
  if (!control) return control.error();
  const uint32_t initiate = (*control & 0xffffu) | 0x8000u;
  if (auto done = process_->qtest_batch(pci_write_commands(function, static_cast<uint8_t>(express->offset + 8), initiate));
      !done) {
    return done.error();
  }
  return reinitialise();
}

Result<std::pair<PciFunction, std::string>> VirtioMemPci::behind_port() {
  auto port = function_of(*qmp_, *port_);
  if (!port) return port.error();
  // What firmware does for a bridge: the bus behind it numbered (one bus
  // per device of the machine, after bus 0), its memory window opened over
  // the device's 1 MiB of BAR space (the prefetchable window stays closed:
  // a prefetchable BAR may sit in the plain one), memory and bus mastering on.
  const uint32_t bus = index_ + 1;
  const uint64_t window = kBarBase + index_ * kBarStride;
  const auto window_bits = [](uint64_t address) { return static_cast<uint32_t>(address >> 16) & 0xfff0u; };
  std::vector<std::string> commands = pci_write_commands(port->first, 0x18, bus << 16 | bus << 8);
  for (const auto& more : {pci_write_commands(port->first, 0x20, window_bits(window) | window_bits(window + kBarStride - 1) << 16),
                           pci_write_commands(port->first, 0x24, 0x0000fff0u),
                           pci_write_commands(port->first, 0x04, 0x0006u)}) {
    commands.insert(commands.end(), more.begin(), more.end());
  }
  if (auto done = process_->qtest_batch(commands); !done) return done.error();
  return std::pair{PciFunction{0x80000000u | bus << 16}, fmt::format("{} at {:02x}:00.0 behind {} ({})", id_, bus, *port_, port->second)};
}

Result<std::optional<std::string>> VirtioMemPci::remove() {
  if (!port_) return Error{fmt::format("{}: not on a hotplug slot, so device_del cannot remove it", id_)};
  auto reply = qmp_->execute("device_del", {{"id", id_}});
  if (!reply) return reply.error();
  if (!reply->ok()) return std::optional<std::string>(reply->error);
  // The guest's part: QEMU's ACPI PCI hotplug (q35's default for root
  // ports) asked it to eject the slot.
  if (auto ejected = eject(); !ejected) return ejected.error();
  return std::optional<std::string>();
}

Status VirtioMemPci::eject() {
  if (!port_) return Error{fmt::format("{}: not on a hotplug slot, so there is no slot to eject", id_)};
  // The guest's ACPI _EJ0 method selects the slot's bus by the number QEMU
  // gave it (the bus's acpi-pcihp-bsel) and writes the slot's bit (device
  // 0: bit 0) to the eject register.
  const std::string bus_path = fmt::format("/machine/peripheral/{}/{}", *port_, *port_);
  auto bsel = qmp_->execute("qom-get", {{"path", bus_path}, {"property", "acpi-pcihp-bsel"}});
  if (!bsel) return bsel.error();
  if (!bsel->ok() || !bsel->value->is_number_unsigned()) return refused("qom-get acpi-pcihp-bsel of " + bus_path, *bsel);
  const uint64_t selector = bsel->value->get<uint64_t>();
  if (auto ejected = process_->qtest_batch({fmt::format("outl {:#x} {:#x}", kAcpiPciHotplugBase + 0x10, selector),
                                            fmt::format("outl {:#x} 0x1", kAcpiPciHotplugBase + 0x08)});
      !ejected) {
    return ejected.error();
  }
  // The eject unplugs at once: the device is gone from QOM, or it was not ejected.
  auto gone = qmp_->execute("qom-list", {{"path", "/machine/peripheral/" + id_}});
  if (!gone) return gone.error();
  if (gone->ok()) return Error{fmt::format("{}: still present after the slot's eject (bsel {})", id_, selector), ErrorCode::QemuProtocol};
  return ok_status();
}

namespace {

Status set_capability(QmpClient& qmp, const char* name, bool on) {
  const nlohmann::json capability{{"capability", name}, {"state", on}};
  auto reply = qmp.execute("migrate-set-capabilities", {{"capabilities", nlohmann::json::array({capability})}});
  if (!reply) return reply.error();
  if (!reply->ok()) return refused("migrate-set-capabilities", *reply);
  return ok_status();
}

}  // namespace

Status VirtioMemPci::migrate(const std::string& binary, const QemuGeometry& destination, uint64_t plugged) {
  auto incoming = launch(binary, destination, {"-incoming", "defer"});
  if (!incoming) return incoming.error();
  if (process_.use_count() > 1) return Error{"a migration of one device of several in a machine: not driven"};
  auto incoming_qmp = std::make_shared<QmpClient>(**incoming);
  if (auto greeted = incoming_qmp->handshake(); !greeted) return greeted;
  const std::string uri = "unix:" + (*incoming)->directory() + "/migration.sock";
  // A shared backend's RAM is not sent (both ends would map the same memory).
  if (destination.shared_memory) {
    for (QmpClient* qmp : {incoming_qmp.get(), qmp_.get()}) {
      if (auto ignored = set_capability(*qmp, "x-ignore-shared", true); !ignored) return ignored;
    }
  }
  for (auto [qmp, command] : {std::pair{incoming_qmp.get(), "migrate-incoming"}, {qmp_.get(), "migrate"}}) {
    auto reply = qmp->execute(command, {{"uri", uri}});
    if (!reply) return reply.error();
    if (!reply->ok()) return refused(command, *reply);
  }
  // QEMU reads every plugged page to send it (or find it zero): seen at
  // about 5 s per GiB on a loaded 2-core machine.
  const int deadline_ms = static_cast<int>(20000 + 10000 * (plugged / GiB));
  if (auto done = wait_for_migration(*qmp_, "source", deadline_ms); !done) return done;
  if (auto done = wait_for_migration(*incoming_qmp, "destination", deadline_ms); !done) return done;
  qmp_ = std::move(incoming_qmp);
  process_ = std::move(*incoming);
  decided_.reset();
  return ok_status();
}

namespace {

// Polls query-migrate until its status is `wanted`.
// `deadline_ms` of polling, not counting QMP's round trips.
Status wait_for_migration_status(QmpClient& qmp, std::string_view wanted, uint64_t deadline_ms = 20000) {
  for (uint64_t waited_ms = 0; waited_ms < deadline_ms; waited_ms += 2) {
    auto reply = qmp.execute("query-migrate");
    if (!reply) return reply.error();
    if (!reply->ok()) return refused("query-migrate", *reply);
    const std::string status = reply->value->value("status", "");
    if (status == wanted) return ok_status();
    if (status == "failed" || status == "completed") {
      return Error{fmt::format("migration {} while waiting for {}: {}", status, wanted, reply->value->dump()),
                   ErrorCode::QemuProtocol};
    }
    ::usleep(2000);
  }
  return Error{fmt::format("migration not {} within {} s", wanted, deadline_ms / 1000)};
}

}  // namespace

Status VirtioMemPci::set_busy(bool busy, uint64_t region_size) {
  if (busy == busy_) return ok_status();
  if (busy) {
    if (auto paused = set_capability(*qmp_, "pause-before-switchover", true); !paused) return paused;
    auto reply = qmp_->execute("migrate", {{"uri", "exec:cat >/dev/null"}});
    if (!reply) return reply.error();
    if (!reply->ok()) return refused("migrate", *reply);
    // The migration walks the whole backend first: the instrumented build
    // took about 100 s for a 1 TiB device with blocks plugged across it
    // (fuzz seed 471; Debian's 10.0.2 under 10 s).
    const uint64_t deadline_ms = 20000 + 20000 * (region_size / (128 * GiB));
    if (auto held = wait_for_migration_status(*qmp_, "pre-switchover", deadline_ms); !held) return held;
  } else {
    auto reply = qmp_->execute("migrate_cancel");
    if (!reply) return reply.error();
    if (!reply->ok()) return refused("migrate_cancel", *reply);
    if (auto cancelled = wait_for_migration_status(*qmp_, "cancelled"); !cancelled) return cancelled;
    if (auto unpaused = set_capability(*qmp_, "pause-before-switchover", false); !unpaused) return unpaused;
  }
  busy_ = busy;
  return ok_status();
}

Result<std::vector<uint64_t>> VirtioMemPci::decided_memslots() {
  if (decided_) return *decided_;
  const std::string backend = fmt::format("/machine/peripheral/{}/virtio-backend", id_);
  auto listing = qmp_->execute("qom-list", {{"path", backend}});
  if (!listing) return listing.error();
  if (!listing->ok() || !listing->value->is_array()) return refused("qom-list " + backend, *listing);
  uint64_t count = 0;
  for (const auto& property : *listing->value) {
    if (property.is_object() && property.value("name", "").starts_with("memslot-")) ++count;
  }
  std::vector<uint64_t> sizes;
  for (uint64_t index = 0; index < count; ++index) {
    const std::string path = fmt::format("{}/memslot-{}[0]", backend, index);
    auto size = qmp_->execute("qom-get", {{"path", path}, {"property", "size"}});
    if (!size) return size.error();
    if (!size->ok() || !size->value->is_number_unsigned()) return refused("qom-get " + path + " size", *size);
    sizes.push_back(size->value->get<uint64_t>());
  }
  decided_ = sizes;
  return sizes;
}

Result<scenario::ManagementView> VirtioMemPci::management_view() {
  const std::string proxy = "/machine/peripheral/" + id_;
  const std::string device = proxy + "/virtio-backend";
  const auto get = [](const std::string& path, const char* property) {
    return nlohmann::json{{"path", path}, {"property", property}};
  };
  const std::vector<std::pair<std::string, nlohmann::json>> commands = {
      {"query-memory-devices", nullptr},
      {"qom-get", get(device, "size")},
      {"qom-get", get(device, "requested-size")},
      {"qom-get", get(device, "block-size")},
      {"qom-get", get(proxy, "size")},
      {"qom-get", get(proxy, "requested-size")},
      {"query-memory-size-summary", nullptr},
  };
  for (const auto& [command, arguments] : commands) {
    if (auto sent = qmp_->send(command, arguments); !sent) return sent.error();
  }
  std::vector<nlohmann::json> values;
  for (const auto& [command, arguments] : commands) {
    const std::string what = command + (arguments.is_null() ? "" : " " + arguments.dump());
    auto reply = qmp_->receive(what);
    if (!reply) return reply.error();
    if (!reply->ok()) return refused(what, *reply);
    values.push_back(*reply->value);
  }
  const auto number = [&](const nlohmann::json& value, const std::string& what) -> Result<uint64_t> {
    if (!value.is_number_unsigned()) return Error{what + " answered " + value.dump(), ErrorCode::QemuProtocol};
    return value.get<uint64_t>();
  };
  scenario::ManagementView v;
  // This device's entry in query-memory-devices.
  const nlohmann::json* data = nullptr;
  for (const nlohmann::json& entry : values[0]) {
    if (entry.is_object() && entry.value("type", "") == "virtio-mem" && entry.contains("data") &&
        entry["data"].value("id", "") == id_) {
      data = &entry["data"];
    }
  }
  if (!data) return Error{"query-memory-devices has no virtio-mem " + id_ + ": " + values[0].dump(), ErrorCode::QemuProtocol};
  v.id = id_;
  const std::string memdev = data->value("memdev", "");
  v.memdev = memdev.starts_with("/objects/") ? memdev.substr(9) : memdev;
  for (auto [field, key] : {std::pair{&v.memaddr, "memaddr"}, {&v.max_size, "max-size"}, {&v.block_size, "block-size"},
                            {&v.size, "size"}, {&v.requested_size, "requested-size"}}) {
    auto value = number(data->value(key, nlohmann::json()), std::string("query-memory-devices ") + key);
    if (!value) return value.error();
    *field = *value;
  }
  auto node = number(data->value("node", nlohmann::json()), "query-memory-devices node");
  if (!node) return node.error();
  v.node = static_cast<uint32_t>(*node);
  uint64_t* qom[] = {&v.device_size, &v.device_requested_size, &v.device_block_size, &v.proxy_size,
                     &v.proxy_requested_size};
  for (size_t i = 0; i < std::size(qom); ++i) {
    auto value = number(values[1 + i], "qom-get " + commands[1 + i].second.dump());
    if (!value) return value.error();
    *qom[i] = *value;
  }
  auto plugged = number(values[6].value("plugged-memory", nlohmann::json()), "query-memory-size-summary plugged-memory");
  if (!plugged) return plugged.error();
  v.machine_plugged = *plugged;
  return v;
}

Result<std::string> VirtioMemPci::qemu_version() {
  auto reply = qmp_->execute("query-version");
  if (!reply) return reply.error();
  if (!reply->ok()) return refused("query-version", *reply);
  const nlohmann::json& v = *reply->value;
  const nlohmann::json qemu = v.value("qemu", nlohmann::json::object());
  if (!qemu.contains("major") || !qemu.contains("minor") || !qemu.contains("micro")) {
    return Error{"query-version answered " + v.dump(), ErrorCode::QemuProtocol};
  }
  const std::string package = v.value("package", "");
  return fmt::format("{}.{}.{}{}", qemu["major"].dump(), qemu["minor"].dump(), qemu["micro"].dump(),
                     package.empty() ? "" : " (" + package + ")");
}

Status VirtioMemPci::oversized_qtest_read() {
  if (auto read = process_->qtest("read 0x0 0x20000000000"); !read) return read.error();
  return ok_status();
}

Result<std::map<std::string, std::string>> VirtioMemPci::property_defaults() {
  auto reply = qmp_->execute("device-list-properties", {{"typename", "virtio-mem-pci"}});
  if (!reply) return reply.error();
  if (!reply->ok()) return refused("device-list-properties", *reply);
  if (!reply->value->is_array()) return Error{"device-list-properties answered " + reply->value->dump(), ErrorCode::QemuProtocol};
  std::map<std::string, std::string> defaults;
  for (const nlohmann::json& property : *reply->value) {
    if (!property.is_object() || !property.contains("name") || !property["name"].is_string()) {
      return Error{"device-list-properties: a property without a name: " + property.dump(), ErrorCode::QemuProtocol};
    }
    const nlohmann::json value = property.value("default-value", nlohmann::json());
    defaults[property["name"]] = value.is_null() ? "" : value.is_string() ? value.get<std::string>() : value.dump();
  }
  return defaults;
}

}  // namespace vmemcheck::qemu
