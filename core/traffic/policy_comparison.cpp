#include "policy_comparison.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "machine.hpp"
#include "shadow_kvm.hpp"

namespace vmemcheck {
namespace {

constexpr const char* kDevice = "vmem0";

DeviceConfig device_config(const PolicyUnderTest& p, const ComparisonGeometry& g) {
  DeviceConfig c;
  c.id = kDevice;
  c.region_size = g.region_size;
  c.block_size = g.block_size;
  c.mode = p.mode;
  if (p.mode == MemslotMode::Count) c.memslots = p.memslots;
  if (p.mode == MemslotMode::Fixed) c.fixed_slot_size = p.slot_size;
  c.unplugged_inaccessible = p.mode == MemslotMode::Multiple ? p.unplugged_inaccessible : true;
  return c;
}

// The driver's requests go to the device and into the scenario.
class RecordingPort final : public DriverPort {
 public:
  RecordingPort(VirtioMemDevice*& device, scenario::Scenario& record) : device_(device), record_(record) {}
  ConfigSpace config() override { return device_->config_space(); }
  std::optional<Response> send(const Request& request) override {
    scenario::GuestRequest op{kDevice, request.type, {request.addr - device_->addr(), true}, request.nb_blocks};
    if (request.type == RequestType::UnplugAll) op.addr = {};
    const auto response = device_->handle(request);
    record_.steps.push_back({op, response ? std::optional<std::string>(std::string(name(response->type))) : std::nullopt, 0});
    return response;
  }

 private:
  VirtioMemDevice*& device_;
  scenario::Scenario& record_;
};

uint64_t exposure_of(const VirtioMemDevice& d) {
  uint64_t exposed = 0;
  const uint64_t blocks_per_slot = d.layout().slot_size / d.config().block_size;
  for (uint64_t i = 0; i < d.layout().count; ++i) {
    if (!d.slot_mapped(i)) continue;
    const SlotMapping s = d.slot(i);
    const uint64_t plugged = d.bitmap().count_set(i * blocks_per_slot, s.size / d.config().block_size);
    exposed += s.size - plugged * d.config().block_size;
  }
  return exposed;
}

}  // namespace

std::vector<PolicyUnderTest> default_policies(uint64_t region_size) {
  const auto v1_slots = static_cast<uint32_t>(std::clamp<uint64_t>(region_size / GiB, 1, kMaxUserMemslots));
  return {
      {"static", MemslotMode::Static, 1, kDefaultFixedSlotSize, true},
      {"v1-usable", MemslotMode::Count, v1_slots, kDefaultFixedSlotSize, true},
      {"v2-usable", MemslotMode::Multiple, 1, kDefaultFixedSlotSize, false},
      {"v4-dynamic", MemslotMode::Dynamic, 1, kDefaultFixedSlotSize, true},
      {"fixed-128M", MemslotMode::Fixed, 1, 128 * MiB, true},
  };
}

Result<PolicyUnderTest> parse_policy(std::string_view text, uint64_t region_size) {
  for (const auto& p : default_policies(region_size)) {
    if (p.label == text) return p;
  }
  // fixed-SIZE, e.g. fixed-1G
  if (text.starts_with("fixed-")) {
    const auto size = parse_size(text.substr(6));
    if (!size || *size == 0) return Error{fmt::format("policy '{}': '{}' is not a slot size", text, text.substr(6))};
    return PolicyUnderTest{std::string(text), MemslotMode::Fixed, 1, *size, true};
  }
  return Error{fmt::format("unknown policy '{}' (static, v1-usable, v2-usable, v4-dynamic, fixed-SIZE)", text)};
}

Result<PolicyResult> run_policy(const PolicyUnderTest& policy, WorkloadKind kind, const WorkloadGeometry& wg,
                                const ComparisonGeometry& g) {
  const Workload workload = make_workload(kind, wg);
  ShadowKvm kvm(KvmLimits{}, MetadataModel{g.tdp_mmu, false});
  SparseHostMemory host;
  MachineConfig machine_config;
  machine_config.device_memory_base = g.gpa;
  machine_config.device_memory_size = g.region_size;  // the device gets the whole soft limit
  machine_config.smm = g.smm;
  machine_config.reserved_memslots = 0;
  Machine machine(machine_config, kvm, host);
  const DeviceConfig config = device_config(policy, g);
  auto added = machine.add_device(config);
  if (!added) return added.error();
  VirtioMemDevice* device = *added;

  PolicyResult result;
  result.policy = policy;
  result.device_memslots = device->layout().count;
  result.slot_size = device->layout().slot_size;
  scenario::ConfigureMachine machine_op;
  machine_op.machine = machine_config;
  machine_op.metadata = MetadataModel{g.tdp_mmu, false};
  result.scenario.name = fmt::format("{}-{}", name(kind), policy.label);
  result.scenario.steps.push_back({machine_op, std::nullopt, 0});
  result.scenario.steps.push_back({scenario::AddDevice{device->config()}, std::string("ok"), 0});

  DriverOptions driver_options;
  driver_options.unremovable = workload.unremovable;
  GuestDriver driver(driver_options);
  driver.boot();
  RecordingPort port(device, result.scenario);
  const auto record = [&](scenario::Op op) { result.scenario.steps.push_back({std::move(op), std::nullopt, 0}); };
  size_t next_event = 0;
  double slots_sum = 0, metadata_sum = 0, exposure_sum = 0;
  for (uint64_t tick = 0; tick < workload.ticks; ++tick) {
    for (; next_event < workload.events.size() && workload.events[next_event].tick == tick; ++next_event) {
      const HostEvent& e = workload.events[next_event];
      switch (e.kind) {
        case HostEvent::Kind::Resize:
          if (auto resized = device->set_requested_size(e.size); !resized) return resized.error();
          record(scenario::Resize{kDevice, e.size});
          break;
        case HostEvent::Kind::Reboot:
          machine.system_reset();
          driver.boot();
          record(scenario::SystemReset{});
          break;
        case HostEvent::Kind::MigrationStart:
          device->set_busy(true);
          record(scenario::SetBusy{kDevice, true});
          break;
        case HostEvent::Kind::MigrationEnd: {
          // The destination has the same configuration; the guest resumes there.
          if (auto migrated = machine.migrate_device(kDevice, device->config()); !migrated) return migrated.error();
          device = machine.find(kDevice);
          device->set_busy(false);
          record(scenario::Migrate{kDevice, {}});
          break;
        }
      }
    }
    driver.tick(port);
    TickSample s{tick, device->requested_size(), device->plugged_size(), device->mapped_slot_count(),
                 kvm.metadata().total(), exposure_of(*device)};
    result.peak_slots = std::max(result.peak_slots, s.mapped_slots);
    result.peak_metadata = std::max(result.peak_metadata, s.metadata);
    result.peak_exposure = std::max(result.peak_exposure, s.exposure);
    slots_sum += static_cast<double>(s.mapped_slots);
    metadata_sum += static_cast<double>(s.metadata);
    exposure_sum += static_cast<double>(s.exposure);
    result.series.push_back(s);
  }
  const auto ticks = static_cast<double>(std::max<uint64_t>(workload.ticks, 1));
  result.mean_slots = slots_sum / ticks;
  result.mean_metadata = metadata_sum / ticks;
  result.mean_exposure = exposure_sum / ticks;
  result.kvm_calls = kvm.calls();
  result.driver = driver.stats();
  return result;
}

}  // namespace vmemcheck
