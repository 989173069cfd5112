#include "scenario_runner.hpp"

#include <algorithm>
#include <cstring>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "invariants.hpp"
#include "mtree.hpp"
#include "reference_budget.hpp"
#include "reference_config.hpp"
#include "reference_features.hpp"
#include "units.hpp"

namespace vmemcheck::scenario {
namespace {

// A STATE request's ACK carries the block state; other responses' state
// field is meaningless and not shown.
std::string outcome_of(const std::optional<Response>& response, bool state_request) {
  return to_text(ChainAnswer{response, state_request});
}

std::string index_list(const std::vector<uint64_t>& indices) {
  if (indices.empty()) return "none";
  std::string out;
  for (auto it = indices.begin(); it != indices.end();) {
    const uint64_t first = *it;
    uint64_t last = first;
    while (++it != indices.end() && *it == last + 1) last = *it;
    out += (out.empty() ? "" : ",") + (first == last ? fmt::format("{}", first) : fmt::format("{}-{}", first, last));
  }
  return out;
}

// The memslots for which is_mapped(i) holds, in order.
template <typename IsMapped>
std::vector<uint64_t> mapped_list(uint64_t count, IsMapped is_mapped) {
  std::vector<uint64_t> mapped;
  for (uint64_t i = 0; i < count; ++i) {
    if (is_mapped(i)) mapped.push_back(i);
  }
  return mapped;
}

std::vector<uint64_t> mapped_list(const VirtioMemDevice& device) {
  return mapped_list(device.layout().count, [&](uint64_t i) { return device.slot_mapped(i); });
}

// A Migrate's stream= edit (scenario.hpp kStreamEdits): each breaks one
// check of the destination's load and nothing else.
void edit_stream(MigrationState& s, std::string_view edit) {
  if (edit == "addr") s.addr += s.block_size;
  else if (edit == "region-size") s.region_size += s.block_size;
  else if (edit == "block-size") s.block_size /= 2;  // smaller: a larger one trips the discards too
  else if (edit == "node") ++s.node;
  else if (edit == "bitmap-size") s.bitmap = BlockBitmap(s.bitmap.size() - 1);  // shorter, for the same reason
  else if (edit == "plugged-size") s.plugged_size += s.block_size;
  else if (edit == "usable") s.usable_region_size = s.region_size + s.block_size;
  // Within the region, off the block size (one byte short, or one byte).
  else if (edit == "usable-unaligned") s.usable_region_size = s.usable_region_size ? s.usable_region_size - 1 : 1;
  else if (edit == "requested") s.requested_size += 1;
  // A whole block beyond the region: aligned, only too large.
  else if (edit == "requested-beyond") s.requested_size = s.region_size + s.block_size;
  else if (edit == "beyond-usable") {
    // The first block past the usable region plugged, and none further (the
    // source's plugged blocks lie inside it): the load's check must look at
    // exactly that block. A usable region of the whole device loses its last block.
    if (s.usable_region_size == s.region_size) s.usable_region_size -= s.block_size;
    s.bitmap.set_range(s.usable_region_size / s.block_size, 1);
    s.plugged_size = s.bitmap.count_set() * s.block_size;
  }
}

Outcome missing(const std::string& id) { return Outcome::refused(Error{fmt::format("no device '{}'", id)}); }

std::string config_text(const ConfigSpace& c) {
  return fmt::format("usable={:#x} plugged={:#x} requested={:#x}", c.usable_region_size, c.plugged_size,
                     c.requested_size);
}

}  // namespace

Runner::Runner(RunOptions options)
    : options_(options), platform_(options.platform ? *options.platform : shadow_platform()) {}
Runner::~Runner() = default;

const ReferenceModel* Runner::model(const std::string& device) const {
  const auto it = models_.find(device);
  return it == models_.end() ? nullptr : &it->second;
}

ReferenceModel* Runner::model_of(const std::string& id) {
  const auto it = models_.find(id);
  return it == models_.end() ? nullptr : &it->second;
}

VirtioMemDevice* Runner::device(const std::string& id) const { return machine_ ? machine_->find(id) : nullptr; }

const Virtqueue* Runner::queue(const std::string& device) const {
  const auto it = queues_.find(device);
  return it == queues_.end() ? nullptr : &it->second;
}

// Boot RAM: below the device-memory area, at most 4 GiB (pc: the rest sits above 4 GiB).
constexpr uint64_t kMaxBootRam = uint64_t{4} << 30;

Status Runner::start_machine(const ConfigureMachine& config) {
  queues_.clear();
  queue_reference_.clear();
  vhosts_.clear();
  used_published_.clear();
  address_space_.reset();
  dma_.reset();
  machine_.reset();
  session_.reset();
  kvm_ = std::make_unique<ShadowKvm>(config.kvm, config.metadata);
  monitor_ = {};
  auto session = platform_.start(*kvm_, config.machine);
  if (!session) return Error{fmt::format("platform '{}': {}", platform_.name(), session.error().message)};
  session_ = std::move(*session);
  machine_ = std::make_unique<Machine>(config.machine, session_->vm(), session_->host_memory());
  ram_ = std::make_unique<GuestRam>(0, std::min(config.machine.device_memory_base, kMaxBootRam));
  dma_ = std::make_unique<DmaView>(*this, machine_->guest_memory());
  address_space_ = std::make_unique<GuestAddressSpace>(*ram_, *dma_);
  return ok_status();
}

bool Runner::DmaView::write(uint64_t gpa, std::span<const uint8_t> bytes) {
  if (!devices_.write(gpa, bytes)) return false;
  // The bytes may span devices: each model stores its part.
  for (size_t done = 0; done < bytes.size();) {
    const GuestDataAt at = runner_.guest_data_at(gpa + done);
    const size_t part = at.device_left ? static_cast<size_t>(std::min<uint64_t>(bytes.size() - done, at.device_left)) : 1;
    if (at.data) at.data->store(at.offset, bytes.subspan(done, part));
    done += part;
  }
  return true;
}

Runner::GuestDataAt Runner::guest_data_at(uint64_t gpa) {
  const VirtioMemDevice* owner = device_at(gpa);
  if (!owner) return {};
  ReferenceModel* model = model_of(owner->config().id);
  const uint64_t offset = gpa - owner->addr();
  return {model ? &model->guest_data() : nullptr, offset, owner->config().region_size - offset};
}

std::optional<uint64_t> Runner::resolve(const std::string& id, const Address& addr) const {
  if (!addr.relative) return addr.value;
  const VirtioMemDevice* d = device(id);
  if (!d) return std::nullopt;
  return d->addr() + addr.value;  // wraps like any guest value would
}

// One function per operation kind, each starting with what it exercises.

void Runner::execute(const ConfigureMachine& m, StepReport& report) {
  if (machine_ && !machine_->devices().empty()) {
    report.outcome = Outcome::refused(Error{"'machine' must come before the first device"});
    return;
  }
  // KVM ids for boot memory, PCI BARs and ROMs must exist, or the budget is negative.
  if (m.machine.reserved_memslots > m.kvm.max_memslots) {
    report.outcome = Outcome::refused(Error{fmt::format("reserved-memslots {} exceed kvm-memslots {}",
                                                        m.machine.reserved_memslots, m.kvm.max_memslots)});
    return;
  }
  // QEMU's phys-bits rule (DESIGN §7): refused before the machine starts.
  const Status addressable = check_phys_bits(m.machine, m.kvm.phys_bits);
  const auto unaddressable = reference_machine_error(m.machine.device_memory_base, m.machine.device_memory_size,
                                                     m.kvm.phys_bits);
  if (options_.check_model && addressable.ok() == unaddressable.has_value()) {
    report.problems.push_back(fmt::format("phys-bits check mismatch: core {}, model {}",
                                          addressable ? "accepts the machine" : addressable.error().message,
                                          unaddressable ? *unaddressable : "accepts it"));
  }
  if (!addressable) {
    report.outcome = Outcome::refused(addressable.error());
    return;
  }
  report.outcome = Outcome::of(start_machine(m));
}

// Both must accept the configuration or both refuse it.
std::optional<std::string_view> Runner::check_config(const DeviceConfig& config, StepReport& report) const {
  const uint32_t numa_nodes = machine_->config().numa_nodes;
  const auto broken = reference_config_error(config, numa_nodes);
  const Status valid = validate(config, numa_nodes);
  if (options_.check_model && valid.ok() == broken.has_value()) {
    report.problems.push_back(fmt::format("config check mismatch on device '{}': core {}, model {}", config.id,
                                          valid ? "accepts it" : "refuses it (" + valid.error().message + ")",
                                          broken ? "refuses it (" + std::string(*broken) + ")" : "accepts it"));
  }
  return broken;
}

// Pre-plug and plug of a memory device; the model starts from the same config and limit.
void Runner::execute(const AddDevice& a, StepReport& report) {
  const MemslotBudget budget = reference_budget();
  const uint64_t used_region = reference_used_region();
  std::vector<std::pair<uint64_t, uint64_t>> taken;
  for (const VirtioMemDevice* d : machine_->devices()) taken.emplace_back(d->addr(), d->addr() + d->config().region_size);
  auto broken = check_config(a.config, report);
  if (!broken && models_.contains(a.config.id)) broken = "a device of that id exists";
  const uint64_t area_base = machine_->config().device_memory_base;
  const uint64_t area_size = machine_->config().device_memory_size;
  std::optional<uint64_t> expected_addr = a.config.addr;
  if (!broken) broken = reference_placement_error(a.config, area_base, area_size, taken);
  if (!broken && !expected_addr) {
    expected_addr = reference_first_fit(a.config, area_base, area_size, taken);
    if (!expected_addr) broken = "no free range in the device-memory area";
  }
  if (!broken) broken = reference_budget_error(a.config, budget, area_size, used_region);
  if (!broken) {
    DeviceConfig placed = a.config;
    placed.addr = expected_addr;
    ReferenceModel realized(placed, reference_device_limit(placed, budget, area_size, used_region));
    realized.set_phys_bits(kvm_->limits().phys_bits);
    if (realized.maps_beyond_phys()) broken = "its realize maps a memslot beyond the guest's physical address bits";
  }
  FaultInjectingBackend& faults = machine_->backend();
  const uint64_t injected = faults.injected();
  auto added = machine_->add_device(a.config);
  // A fault armed for any device targets this one's attach and realize only.
  faults.disarm_any_device();
  if (!broken && faults.injected() != injected) broken = "an injected fault hit its attach or realize";
  if (added && broken && options_.check_model) {
    report.problems.push_back(fmt::format("device '{}' was added, but the model refuses it: {}", a.config.id, *broken));
  }
  if (!added) {
    report.outcome = Outcome::refused(added.error());
    // The host's room for backing memory is the platform's, not a device rule
    // (SparseHostMemory's 128 TiB of addresses, the KVM platform's mmap).
    const bool host_refused = added.error().code == ErrorCode::HostMemory;
    if (!broken && !host_refused && options_.check_model) {
      report.problems.push_back(fmt::format("device '{}' was refused, but the model accepts it ({})", a.config.id,
                                            added.error().message));
    }
    return;
  }
  const VirtioMemDevice& d = **added;
  if (expected_addr && d.addr() != *expected_addr && options_.check_model) {
    report.problems.push_back(fmt::format("device '{}' was placed at {:#x}, the model places it at {:#x}", a.config.id,
                                          d.addr(), *expected_addr));
  }
  report.outcome = Outcome::ok(fmt::format("addr={:#x} memslots={} slot-size={}", d.addr(), d.layout().count,
                                           format_size(d.layout().slot_size)));
  if (d.policy().decides_automatically() && options_.check_model) {
    const uint64_t expected = reference_memslot_limit(budget, machine_->config().device_memory_size,
                                                      used_region, d.config().region_size);
    if (d.memslot_limit() != expected) {
      report.problems.push_back(fmt::format("memslot limit mismatch on device '{}': core {}, model {}",
                                            a.config.id, d.memslot_limit(), expected));
    }
  }
  ReferenceModel model(d.config(), d.memslot_limit());
  model.set_phys_bits(kvm_->limits().phys_bits);
  models_.erase(a.config.id);
  models_.emplace(a.config.id, std::move(model));
}

void Runner::execute(const RemoveDevice& rm, StepReport& report) {
  if (!machine_) {
    report.outcome = missing(rm.device);
    return;
  }
  const ReferenceModel* model = model_of(rm.device);
  const std::optional<bool> expected = model ? std::optional{rm.by_guest || model->removable()} : std::nullopt;
  if (model && model->config_space().plugged_size != 0) census_.removed_with_plugged();
  const Status removed = rm.by_guest ? machine_->eject_device(rm.device) : machine_->remove_device(rm.device);
  if (expected && *expected != removed.ok() && options_.check_model) {
    report.problems.push_back(fmt::format("remove of '{}': core {}, model {}", rm.device,
                                          removed ? "removed it" : "refused", *expected ? "removes it" : "refuses"));
  }
  if (removed) {
    models_.erase(rm.device);
    queues_.erase(rm.device);
    queue_reference_.remove(rm.device);
    used_published_.erase(rm.device);
  }
  report.outcome = Outcome::of(removed);
}

// A guest request, on the core and on the model.
void Runner::execute(const GuestRequest& g, StepReport& report) {
  VirtioMemDevice* d = device(g.device);
  if (!d) {
    report.outcome = missing(g.device);
    return;
  }
  const Request request{g.type, *resolve(g.device, g.addr), g.nb_blocks};
  const auto response = d->handle(request);
  if (response && response->type == ResponseType::Ack) {
    const uint64_t size = uint64_t{g.nb_blocks} * d->config().block_size;
    if (g.type == RequestType::Unplug) census_.unplugged(request.addr, size);
    if (g.type == RequestType::UnplugAll) census_.unplugged(d->addr(), d->config().region_size);
    if (g.type == RequestType::Plug) census_.plugged(request.addr, size);
  }
  const bool is_state = g.type == RequestType::State;
  report.outcome = Outcome::answered(response, is_state);
  if (ReferenceModel* model = model_of(g.device); model && options_.check_model) {
    const auto expected = model->request(request);
    if (expected != response) {
      report.problems.push_back(fmt::format("response mismatch on device '{}': core {}, model {}", g.device,
                                            outcome_of(response, is_state), outcome_of(expected, is_state)));
    }
  }
}

void Runner::execute(const RawRequest& raw, StepReport& report) {
  VirtioMemDevice* d = device(raw.device);
  if (!d) {
    report.outcome = missing(raw.device);
    return;
  }
  const uint64_t addr = *resolve(raw.device, raw.addr);
  const auto response = d->handle_raw({raw.type, addr, raw.nb_blocks}, raw.readable, raw.writable);
  const bool is_state = raw.type == static_cast<uint16_t>(RequestType::State);
  report.outcome = Outcome::answered(response, is_state);
  if (d->needs_reset()) report.outcome.error_reason = *d->error_reason();
  if (ReferenceModel* model = model_of(raw.device); model && options_.check_model) {
    const auto expected = model->raw_request(raw.type, addr, raw.nb_blocks, raw.readable, raw.writable);
    if (expected != response) {
      report.problems.push_back(fmt::format("response mismatch on device '{}': core {}, model {}",
                                            raw.device, outcome_of(response, is_state), outcome_of(expected, is_state)));
    }
  }
}

// Host resize (QMP requested-size).
void Runner::execute(const Resize& rs, StepReport& report) {
  VirtioMemDevice* d = device(rs.device);
  if (!d) {
    report.outcome = missing(rs.device);
    return;
  }
  const Status resized = d->set_requested_size(rs.requested);
  report.outcome = Outcome::of(resized);
  if (ReferenceModel* model = model_of(rs.device); model && options_.check_model) {
    if (model->resize(rs.requested) != resized.ok()) {
      report.problems.push_back(fmt::format("resize of '{}': core {}, model {}", rs.device,
                                            resized ? "accepted" : "refused", resized ? "refused" : "accepted"));
    }
  }
}

void Runner::execute(const SystemReset&, StepReport& report) {
  if (machine_) machine_->system_reset();
  for (auto& [id, model] : models_) model.system_reset();
  for (auto& [id, queue] : queues_) queue.reset();
  queue_reference_.reset_all();
  for (auto& [id, published] : used_published_) published = 0;
  report.outcome = Outcome::ok();
}

void Runner::execute(const VirtioReset& v, StepReport& report) {
  VirtioMemDevice* d = device(v.device);
  if (!d) {
    report.outcome = missing(v.device);
    return;
  }
  d->virtio_reset();
  if (ReferenceModel* model = model_of(v.device)) model->virtio_reset();
  if (auto it = queues_.find(v.device); it != queues_.end()) {
    it->second.reset();
    queue_reference_.reset(v.device);
    used_published_[v.device] = 0;
  }
  report.outcome = Outcome::ok();
}

void Runner::execute(const SetBusy& b, StepReport& report) {
  VirtioMemDevice* d = device(b.device);
  if (!d) {
    report.outcome = missing(b.device);
    return;
  }
  d->set_busy(b.busy);
  if (ReferenceModel* model = model_of(b.device)) model->set_busy(b.busy);
  report.outcome = Outcome::ok();
}

// The driver reads the config space (DESIGN §6's wire layout), then
// negotiates; what it reads must be the model's config space.
void Runner::execute(const NegotiateFeatures& f, StepReport& report) {
  const VirtioMemDevice* d = device(f.device);
  if (!d) {
    report.outcome = missing(f.device);
    return;
  }
  const Result<uint64_t> negotiated = negotiate_features(d->config(), f.driver_features);
  report.outcome = negotiated ? Outcome::ok() : Outcome::refused(negotiated.error());
  const ReferenceModel* model = model_of(f.device);
  if (!model || !options_.check_model) return;
  check_negotiation(d->config(), f.driver_features, negotiated, report);
  const auto bytes = encode_config(d->config_space());
  const auto le = [&](size_t offset, size_t width) {
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) value = value << 8 | bytes[offset + i];
    return value;
  };
  const ConfigSpace read{le(0, 8), static_cast<uint16_t>(le(8, 2)), le(16, 8), le(24, 8), le(32, 8), le(40, 8), le(48, 8)};
  if (read != model->config_space() || le(10, 6) != 0) {
    report.problems.push_back(fmt::format("config space bytes of '{}' read {}, model {}", f.device, config_text(read),
                                          config_text(model->config_space())));
  }
}

// The reference's verdict on a negotiation: the offered bits, FEATURES_OK
// and the bits the device keeps.
void Runner::check_negotiation(const DeviceConfig& config, uint64_t driver_features,
                               const Result<uint64_t>& negotiated, StepReport& report) const {
  if (offered_features(config) != reference_offered_features(config)) {
    report.problems.push_back(fmt::format("'{}' offers features {:#x}, the reference {:#x}", config.id,
                                          offered_features(config), reference_offered_features(config)));
  }
  const ReferenceNegotiation expected = reference_negotiation(config, driver_features);
  if (negotiated.ok() != expected.features_ok) {
    report.problems.push_back(fmt::format("features {:#x} on '{}': core {} FEATURES_OK, the reference {}",
                                          driver_features, config.id, negotiated ? "sets" : "refuses",
                                          expected.features_ok ? "sets it" : "refuses it"));
  } else if (negotiated && *negotiated != expected.negotiated) {
    report.problems.push_back(fmt::format("features {:#x} on '{}': core keeps {:#x}, the reference {:#x}",
                                          driver_features, config.id, *negotiated, expected.negotiated));
  }
}

// Migration into a destination whose memslot options may differ.
void Runner::execute(const Migrate& m, StepReport& report) {
  VirtioMemDevice* d = device(m.device);
  if (!d) {
    report.outcome = missing(m.device);
    return;
  }
  DeviceConfig destination = d->config();
  // A destination of another mode does not inherit the source mode's options.
  const bool mode_given = std::any_of(m.overrides.begin(), m.overrides.end(),
                                      [](const auto& option) { return option.first == "mode"; });
  if (mode_given) {
    destination.memslots = DeviceConfig{}.memslots;
    destination.fixed_slot_size = DeviceConfig{}.fixed_slot_size;
  }
  std::optional<std::string> stream_edit;
  std::optional<FaultKind> fault;
  for (const auto& [key, value] : m.overrides) {
    if (key == "stream") {
      stream_edit = value;
    } else if (key == "fail") {
      fault = parse_fault_kind(value);
    } else if (auto applied = apply_device_option(destination, key, value); !applied) {
      report.outcome = Outcome::refused(applied.error());
      return;
    }
  }
  std::optional<std::string_view> must_fail = check_config(destination, report);
  if (!must_fail && destination.node != d->config().node) must_fail = "the node differs from the source's";
  if (!must_fail && stream_edit) must_fail = "the stream is corrupted";
  const ReferenceModel* source_model = model_of(m.device);
  const uint64_t area_size = machine_->config().device_memory_size;
  const MemslotBudget budget = reference_budget(m.device);
  const uint64_t used_region = reference_used_region(m.device);
  if (!must_fail) must_fail = reference_budget_error(destination, budget, area_size, used_region);
  if (!must_fail && source_model) {
    ReferenceModel loaded(destination, reference_device_limit(destination, budget, area_size, used_region));
    loaded.set_phys_bits(kvm_->limits().phys_bits);
    loaded.restore(*source_model);
    if (loaded.maps_beyond_phys()) must_fail = "the destination maps a memslot beyond the guest's physical address bits";
  }
  // Migration's own backend calls are not modelled step by step: armed
  // faults are dropped on both sides first, and only fail= arms one.
  FaultInjectingBackend& faults = machine_->backend();
  faults.disarm_all();
  for (auto& [id, model] : models_) model.disarm_all();
  if (fault) faults.arm(*fault, 0, d->handle_id());
  const uint64_t injected = faults.injected();
  const Status migrated = machine_->migrate_device(
      m.device, destination, [&](MigrationState& state) { if (stream_edit) edit_stream(state, *stream_edit); });
  faults.disarm_all();  // one the destination never reached
  if (!must_fail && faults.injected() != injected) must_fail = "an injected fault hit the destination";
  report.outcome = Outcome::of(migrated);
  if (migrated && must_fail && options_.check_model) {
    report.problems.push_back(fmt::format("migration of '{}' succeeded, but must fail: {}", m.device, *must_fail));
  }
  if (!migrated && !must_fail && options_.check_model) {
    report.problems.push_back(fmt::format("migration of '{}' failed, but the model's succeeds", m.device));
  }
  if (!migrated && !device(m.device)) {
    report.problems.push_back(fmt::format("device '{}' is gone after a failed migration", m.device));
  }
  if (!migrated) return;
  const VirtioMemDevice* fresh = device(m.device);
  ReferenceModel* old_model = model_of(m.device);
  if (!fresh || !old_model) return;
  const uint64_t expected_limit = reference_device_limit(fresh->config(), budget, area_size, used_region);
  if (fresh->memslot_limit() != expected_limit && options_.check_model) {
    report.problems.push_back(fmt::format("memslot limit mismatch on device '{}' after migration: core {}, model {}",
                                          m.device, fresh->memslot_limit(), expected_limit));
  }
  ReferenceModel next(fresh->config(), fresh->memslot_limit());
  next.set_phys_bits(kvm_->limits().phys_bits);
  next.restore(*old_model);
  models_.erase(m.device);
  models_.emplace(m.device, std::move(next));
}

void Runner::execute(const InjectFault& f, StepReport& report) {
  std::optional<DeviceHandle> handle;
  if (f.device) {
    VirtioMemDevice* d = device(*f.device);
    if (!d) {
      report.outcome = missing(*f.device);
      return;
    }
    handle = d->handle_id();
    if (ReferenceModel* model = model_of(*f.device)) model->arm(f.kind, f.skip);
  }
  machine_->backend().arm(f.kind, f.skip, handle);
  report.outcome = Outcome{Outcome::Kind::Armed};
}

// DESIGN §6 "Memory-device core": a vhost backend must hold every memslot in
// use or promised, and at least kMemslotSafeMax once a device decided
// automatically on several.
void Runner::execute(const AddVhost& v, StepReport& report) {
  const MemslotBudget b = reference_budget();
  const bool several_decided = std::ranges::any_of(models_, [](const auto& entry) {
    return reference_decides_automatically(entry.second.config().mode) && entry.second.slot_count() > 1;
  });
  const uint64_t held = machine_->config().reserved_memslots + b.required;
  const bool must_refuse = (v.vhost.max_memslots < kMemslotSafeMax && several_decided) || v.vhost.max_memslots < held;
  const Status added = machine_->add_vhost(v.vhost);
  report.outcome = Outcome::of(added);
  if (added) vhosts_.push_back(v.vhost);
  if (added.ok() == must_refuse && options_.check_model) {
    report.problems.push_back(fmt::format("vhost '{}' (max {}): core {}, model {}", v.vhost.name, v.vhost.max_memslots,
                                          added ? "accepts it" : "refuses it", must_refuse ? "refuses it" : "accepts it"));
  }
}

uint64_t Runner::reference_used_region(const std::string& leaving) const {
  uint64_t used = 0;
  for (const auto& [id, model] : models_) used += id == leaving ? 0 : model.config().region_size;
  return used;
}

MemslotBudget Runner::reference_budget(const std::string& leaving) const {
  MemslotBudget b;
  for (const auto& [id, model] : models_) {
    if (id == leaving) continue;
    b.required += model.slot_count();
    for (uint64_t slot = 0; slot < model.slot_count(); ++slot) b.used += model.mapped(slot) ? 1 : 0;
  }
  // Every backend sees every memslot: other consumers' and the memory devices'.
  const uint64_t in_use = machine_->config().reserved_memslots + b.used;
  const auto left = [&](uint64_t max) { return max > in_use ? max - in_use : 0; };
  b.max = kvm_->max_memslots();
  b.free = left(b.max);
  for (const VhostBackend& vhost : vhosts_) {
    b.max = std::min<uint64_t>(b.max, vhost.max_memslots);
    b.free = std::min(b.free, left(vhost.max_memslots));
  }
  return b;
}

// A vCPU's 8-byte access; checks invariant 7 against the model's view:
// accessible exactly where a memslot must be mapped, and reading what the
// guest left there, plugged or not.
void Runner::execute(const GuestAccess& a, StepReport& report) {
  const VirtioMemDevice* d = device(a.device);
  if (!d) {
    report.outcome = missing(a.device);
    return;
  }
  const uint64_t gpa = *resolve(a.device, a.addr);
  uint8_t bytes[8] = {};
  bool accessible = false;
  uint64_t value = 0;
  if (a.write_value) {
    std::memcpy(bytes, &*a.write_value, sizeof bytes);
    accessible = guest_store(gpa, bytes);
    report.outcome = accessible ? Outcome::ok() : Outcome{Outcome::Kind::Unmapped};
    remember_store(gpa, bytes, accessible);
  } else {
    accessible = guest_load(gpa, bytes);
    std::memcpy(&value, bytes, sizeof value);
    report.outcome = Outcome{accessible ? Outcome::Kind::Read : Outcome::Kind::Unmapped};
    report.outcome.value = value;
  }
  // The address may lie in another device than the one named (offsets wrap).
  const VirtioMemDevice* owner = device_at(gpa);
  const ReferenceModel* model = owner ? model_of(owner->config().id) : nullptr;
  if (!model || gpa % 8 != 0) return;
  const uint64_t offset = gpa - owner->addr();
  const std::string& id = owner->config().id;
  const bool mapped = model->mapped(offset / model->slot_size());
  if (accessible != mapped) {
    report.problems.push_back(fmt::format("invariant 7 broken: GPA {:#x} of '{}' is {}accessible, but its memslot "
                                          "should {}be mapped", gpa, id, accessible ? "" : "in",
                                          mapped ? "" : "not "));
  }
  if (!accessible) return;
  if (a.write_value) {
    census_.wrote(gpa);
    return;
  }
  census_.read(gpa);
  const std::optional<uint64_t> expected = model->guest_data().load(offset);
  if (expected && value != *expected) {
    const bool plugged = model->blocks()[offset / owner->config().block_size];
    report.problems.push_back(fmt::format("invariant 7 broken: GPA {:#x} of '{}' ({} block) reads {:#x}, expected "
                                          "{:#x}", gpa, id, plugged ? "plugged" : "unplugged", value, *expected));
  }
}

void Runner::remember_store(uint64_t gpa, std::span<const uint8_t, 8> bytes, bool accessible) {
  if (gpa % 8 == 0) {
    if (const GuestDataAt at = guest_data_at(gpa); accessible && at.data) at.data->store(at.offset, bytes);
    return;
  }
  // A store across two words may be split at a memslot edge, half of it
  // landing: both words are unknown from now on, whatever the vCPU said.
  for (const uint64_t word : {gpa & ~uint64_t{7}, (gpa & ~uint64_t{7}) + 8}) {
    if (const GuestDataAt at = guest_data_at(word); at.data) at.data->forget(at.offset, 8);
  }
}

void Runner::execute(const SetupQueue& q, StepReport& report) {
  if (!device(q.device)) {
    report.outcome = missing(q.device);
    return;
  }
  auto [it, added] = queues_.try_emplace(q.device, *address_space_);
  const Status configured = it->second.configure(q.layout);
  if (options_.check_model) queue_reference_.set_up(q.device, q.layout, configured.ok(), report.problems);
  report.outcome = Outcome::of(configured);
  used_published_[q.device] = 0;  // enabling a queue starts its rings from index 0
}

void Runner::execute(const Poke& p, StepReport& report) {
  report.outcome = address_space_->write(p.gpa, p.bytes) ? Outcome::ok() : Outcome{Outcome::Kind::Unmapped};
}

// The device services its queue; the model answers the same chains.
void Runner::execute(const Kick& k, StepReport& report) {
  VirtioMemDevice* d = device(k.device);
  if (!d) {
    report.outcome = missing(k.device);
    return;
  }
  const auto it = queues_.find(k.device);
  if (it == queues_.end()) {
    report.outcome = Outcome{Outcome::Kind::Idle, "no queue"};
    return;
  }
  ReferenceModel* model = model_of(k.device);
  if (model && options_.check_model) {
    queue_reference_.predict(k.device, *address_space_, *model, machine_->config().device_memory_base,
                             machine_->config().device_memory_size);
  }
  const KickResult kick = service_queue(it->second, *d);
  if (model && options_.check_model) queue_reference_.compare(k.device, kick, it->second, *address_space_, report.problems);
  report.outcome = Outcome{Outcome::Kind::Answered};
  for (const ServicedChain& chain : kick.chains) {
    const bool is_state = chain.request.raw_type == static_cast<uint16_t>(RequestType::State);
    report.outcome.answers.push_back({chain.response, is_state, chain.response ? static_cast<uint32_t>(kResponseSize) : 0u});
    if (!model || !options_.check_model) continue;
    const auto expected = model->raw_request(chain.request.raw_type, chain.request.addr, chain.request.nb_blocks,
                                             chain.readable_bytes, chain.writable_bytes);
    if (expected != chain.response) {
      report.problems.push_back(fmt::format("response mismatch on device '{}', chain at head {}: core {}, model {}",
                                            k.device, chain.head, outcome_of(chain.response, is_state),
                                            outcome_of(expected, is_state)));
    }
  }
  check_response_bytes(kick, it->second.layout(), report);
  check_used_ring(k.device, kick, it->second.layout(), report);
  if (kick.fault) {
    if (model) model->transport_error();
    report.outcome.fault = *kick.fault;
  } else if (kick.chains.empty()) {
    report.outcome = Outcome{Outcome::Kind::Idle, d->needs_reset() ? "device needs reset" : ""};
  } else if (!kick.chains.back().response) {
    report.outcome.error_reason = *d->error_reason();
  }
}

// What the driver finds in the response buffer of the kick's last answered
// chain (earlier ones may share its buffer) must decode to the response the
// device gave. Unchecked when a later write clobbered it: the used ring's, or
// another part of the response (overlapping writable descriptors).
void Runner::check_response_bytes(const KickResult& kick, const QueueLayout& layout, StepReport& report) const {
  if (kick.chains.empty() || kick.fault || !kick.chains.back().response) return;
  const ServicedChain& chain = kick.chains.back();
  std::vector<Segment> parts{{layout.used, static_cast<uint32_t>(used_ring_offset(layout.size) + 2)}};
  const auto overlaps = [](const Segment& a, uint64_t gpa, uint64_t len) {
    return gpa < a.gpa + a.len && a.gpa < gpa + len;
  };
  std::array<uint8_t, kResponseSize> bytes{};
  size_t done = 0;
  for (const Segment& s : chain.writable) {
    if (done == bytes.size()) break;
    const size_t chunk = std::min<size_t>(s.len, bytes.size() - done);
    if (std::ranges::any_of(parts, [&](const Segment& p) { return overlaps(p, s.gpa, chunk); })) return;
    if (!address_space_->read(s.gpa, std::span(bytes).subspan(done, chunk))) return;
    parts.push_back({s.gpa, static_cast<uint32_t>(chunk)});
    done += chunk;
  }
  if (decode_response(bytes) != chain.response) {
    report.problems.push_back(fmt::format("the response buffer of the chain at head {} reads {:02x}, the device "
                                          "answered {}", chain.head, fmt::join(bytes, ""),
                                          outcome_of(chain.response, true)));
  }
}

// The used ring after a kick without a fault: its index counts every chain
// answered since the queue was set up, and the last element names the last
// answered chain's head and the response's length (written after the
// response, so nothing of the kick clobbers it).
void Runner::check_used_ring(const std::string& device, const KickResult& kick, const QueueLayout& layout,
                             StepReport& report) {
  std::optional<uint16_t>& published = used_published_[device];
  if (kick.fault) published.reset();
  const auto answered = std::ranges::count_if(kick.chains, [](const ServicedChain& c) { return c.response.has_value(); });
  if (!published || answered == 0) return;
  published = static_cast<uint16_t>(*published + answered);
  std::array<uint8_t, 2> index{};
  std::array<uint8_t, 8> element{};
  const uint64_t element_gpa = layout.used + used_ring_offset(static_cast<uint16_t>(*published - 1) % layout.size);
  if (!address_space_->read(layout.used + used_idx_offset(), index) || !address_space_->read(element_gpa, element)) {
    return;
  }
  const auto last = std::ranges::find_if(kick.chains.rbegin(), kick.chains.rend(),
                                         [](const ServicedChain& c) { return c.response.has_value(); });
  const uint64_t seen_index = load_le(index, 0, 2);
  const uint64_t seen_head = load_le(element, 0, 4);
  const uint64_t seen_length = load_le(element, 4, 4);
  if (seen_index != *published || seen_head != last->head || seen_length != kResponseSize) {
    report.problems.push_back(fmt::format("used ring of '{}': index {} with element {{id {}, len {}}}, the driver "
                                          "expects index {} with {{id {}, len {}}}", device, seen_index, seen_head,
                                          seen_length, *published, last->head, kResponseSize));
  }
}

void Runner::execute(const ShowMtree&, StepReport& report) {
  if (options_.describe_steps) report.output = render_mtree(*machine_);
  report.outcome = Outcome::ok();
}

// The KVM slot table and its metadata; the metadata is checked against the
// models' mapped memslots (each in every address space).
void Runner::execute(const ShowSlots&, StepReport& report) {
  const SlotMetadata meta = kvm_->metadata();
  report.outcome = Outcome{Outcome::Kind::Report};
  report.outcome.detail = fmt::format("{} KVM memslots, metadata {} ({} bytes)", kvm_->slot_count(),
                               format_size_approx(static_cast<double>(meta.total())), meta.total());
  if (options_.describe_steps) {
    for (const KvmRegion& region : kvm_->slots()) report.output += describe(region) + "\n";
    report.output += report.outcome.detail + "\n";
  }
  if (!options_.check_model || !machine_) return;
  const MetadataModel& model = kvm_->metadata_model();
  uint64_t expected = 0;
  for (const auto& [id, device_model] : models_) expected += device_model.mapped_metadata(model.tdp_mmu, model.dirty_logging);
  expected *= machine_->config().smm ? 2 : 1;
  if (meta.total() != expected) {
    report.problems.push_back(fmt::format("KVM metadata mismatch: shadow {} bytes, model {} bytes", meta.total(), expected));
  }
}

void Runner::execute(const Expect& e, StepReport& report) {
  const std::vector<std::string> failures = check_expectations(e);
  if (failures.empty()) {
    report.outcome = Outcome::ok();
    return;
  }
  std::string text;
  for (const std::string& failure : failures) text += (text.empty() ? "" : "; ") + failure;
  report.outcome = Outcome::refused(Error{text});
  report.problems.push_back("expectation failed: " + text);
}

std::vector<std::string> Runner::check_expectations(const Expect& e) const {
  std::vector<std::string> failures;
  const auto compare = [&](const std::string& key, const std::string& want, const std::string& got) {
    if (want != got) failures.push_back(fmt::format("{}: expected {}, got {}", key, want, got));
  };
  const auto size_text = [](std::string_view text) {
    const auto parsed = parse_size(text);
    return parsed ? fmt::format("{:#x}", *parsed) : std::string(text);
  };
  if (e.device) {
    const VirtioMemDevice* d = device(*e.device);
    if (!d) return {fmt::format("no device '{}'", *e.device)};
    const ConfigSpace c = d->config_space();
    for (const auto& [key, want] : e.checks) {
      if (key == "mapped") compare(key, want, index_list(mapped_list(*d)));
      else if (key == "mapped-count") compare(key, want, fmt::format("{}", d->mapped_slot_count()));
      else if (key == "memslots") compare(key, want, fmt::format("{}", d->layout().count));
      else if (key == "slot-size") compare(key, size_text(want), fmt::format("{:#x}", d->layout().slot_size));
      else if (key == "plugged") compare(key, size_text(want), fmt::format("{:#x}", c.plugged_size));
      else if (key == "usable") compare(key, size_text(want), fmt::format("{:#x}", c.usable_region_size));
      else if (key == "requested") compare(key, size_text(want), fmt::format("{:#x}", c.requested_size));
      else if (key == "addr") compare(key, size_text(want), fmt::format("{:#x}", c.addr));
      else if (key == "needs-reset") compare(key, want, d->needs_reset() ? "yes" : "no");
      else failures.push_back(fmt::format("unknown device check '{}' (mapped, mapped-count, memslots, slot-size, "
                                          "plugged, usable, requested, addr, needs-reset)", key));
    }
  } else {
    for (const auto& [key, want] : e.checks) {
      if (!machine_) {
        failures.push_back("no machine yet");
        break;
      }
      const MemslotBudget b = machine_->budget();
      if (key == "kvm-slots") compare(key, want, fmt::format("{}", kvm_->slot_count()));
      else if (key == "devices") compare(key, want, fmt::format("{}", machine_->devices().size()));
      else if (key == "required") compare(key, want, fmt::format("{}", b.required));
      else if (key == "used") compare(key, want, fmt::format("{}", b.used));
      else if (key == "metadata") compare(key, size_text(want), fmt::format("{:#x}", kvm_->metadata().total()));
      else failures.push_back(fmt::format("unknown machine check '{}' (kvm-slots, devices, required, used, metadata)", key));
    }
  }
  return failures;
}

void Runner::compare_with_models(StepReport& report) const {
  if (!machine_) return;
  const MemslotBudget core = machine_->budget(), expected = reference_budget();
  if (core.max != expected.max || core.free != expected.free || core.required != expected.required ||
      core.used != expected.used) {
    report.problems.push_back(fmt::format("memslot budget mismatch: core max {} free {} required {} used {}, model max "
                                          "{} free {} required {} used {}", core.max, core.free, core.required,
                                          core.used, expected.max, expected.free, expected.required, expected.used));
  }
  for (const VirtioMemDevice* d : machine_->devices()) {
    const auto it = models_.find(d->config().id);
    if (it == models_.end()) continue;
    const ReferenceModel& model = it->second;
    const std::string& id = d->config().id;
    if (d->config_space() != model.config_space()) {
      report.problems.push_back(fmt::format("config mismatch on device '{}': core {}, model {}", id,
                                            config_text(d->config_space()), config_text(model.config_space())));
    }
    if (d->needs_reset() != model.needs_reset()) {
      report.problems.push_back(fmt::format("error-state mismatch on device '{}': core {}, model {}", id,
                                            d->needs_reset() ? "needs reset" : "running",
                                            model.needs_reset() ? "needs reset" : "running"));
    }
    if (d->layout().count != model.slot_count() || d->layout().slot_size != model.slot_size()) {
      report.problems.push_back(fmt::format("layout mismatch on device '{}': core {} x {:#x}, model {} x {:#x}", id,
                                            d->layout().count, d->layout().slot_size, model.slot_count(),
                                            model.slot_size()));
    } else if (!std::ranges::equal(d->mapped_flags(), model.mapped_flags())) {
      const auto model_mapped = mapped_list(model.slot_count(), [&](uint64_t i) { return model.mapped(i); });
      report.problems.push_back(fmt::format("mapped memslots mismatch on device '{}': core {}, model {}", id,
                                            index_list(mapped_list(*d)), index_list(model_mapped)));
    }
  }
}

bool Runner::guest_load(uint64_t gpa, std::span<uint8_t, 8> bytes) {
  VcpuAccess* vcpu = session_->vcpu();
  if (!vcpu) return machine_->guest_memory().read(gpa, bytes);
  uint64_t value = 0;
  const bool accessible = vcpu->load(gpa, value);
  std::memcpy(bytes.data(), &value, sizeof value);
  return accessible;
}

bool Runner::guest_store(uint64_t gpa, std::span<const uint8_t, 8> bytes) {
  VcpuAccess* vcpu = session_->vcpu();
  if (!vcpu) return machine_->guest_memory().write(gpa, bytes);
  uint64_t value = 0;
  std::memcpy(&value, bytes.data(), sizeof value);
  return vcpu->store(gpa, value);
}

const VirtioMemDevice* Runner::device_at(uint64_t gpa) const {
  if (!machine_) return nullptr;
  for (const VirtioMemDevice* d : machine_->devices()) {
    if (gpa >= d->addr() && gpa - d->addr() < d->config().region_size) return d;
  }
  return nullptr;
}

StepReport Runner::step(const Step& s) {
  StepReport report;
  report.line = s.line;
  census_.step();
  if (options_.describe_steps) report.op_text = to_text(s.op);
  if (machine_) {
    for (auto& [id, model] : models_) model.set_free_memslots(machine_->kvm_backend().free_slots());
  }
  // Scenarios may start without a 'machine' line: they get the default one.
  if (!machine_ && !std::holds_alternative<ConfigureMachine>(s.op)) {
    if (const Status started = start_machine({}); !started) {
      report.outcome = Outcome::refused(started.error());
      report.problems.push_back(to_text(report.outcome));
      return report;
    }
  }
  std::visit([&](const auto& op) { execute(op, report); }, s.op);
  if (session_) {
    for (auto& mismatch : session_->take_mismatches()) report.problems.push_back("lockstep: " + mismatch);
  }
  if (options_.check_model) compare_with_models(report);
  if (options_.check_invariants && machine_) {
    for (auto& violation : monitor_.check(*machine_, kvm_.get())) report.problems.push_back(std::move(violation));
  }
  if (s.expected && !to_text(report.outcome).starts_with(*s.expected)) {
    report.problems.push_back(fmt::format("expected outcome '{}', got '{}'", *s.expected, to_text(report.outcome)));
  }
  return report;
}

}  // namespace vmemcheck::scenario
