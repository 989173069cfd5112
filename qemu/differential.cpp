#include "differential.hpp"

#include <algorithm>
#include <memory>
#include <type_traits>

#include <fmt/format.h>

#include "mtree.hpp"
#include "random_scenario.hpp"
#include "scenario_runner.hpp"
#include "units.hpp"
#include "virtio_mem_pci.hpp"

namespace vmemcheck::qemu {
namespace {

using namespace scenario;

std::string outcome_of(const std::optional<Response>& response, bool state_request) {
  if (!response) return "none (device needs reset)";
  if (response->type == ResponseType::Ack && state_request) {
    return fmt::format("{} {}", name(response->type), name(response->state));
  }
  return std::string(name(response->type));
}

// The core's outcome without the error reason it may append.
std::string normalized(const std::string& outcome) { return outcome.substr(0, outcome.find(':')); }

std::string config_text(const ConfigSpace& c) {
  return fmt::format("block={:#x} node={} addr={:#x} region={:#x} usable={:#x} plugged={:#x} requested={:#x}",
                     c.block_size, c.node_id, c.addr, c.region_size, c.usable_region_size, c.plugged_size,
                     c.requested_size);
}

// The op's kind, as the skip statistics name it.
std::string kind_of(const Op& op) {
  const std::string text = to_text(op);
  return text.substr(0, text.find(' '));
}

std::string version_of(QemuProcess& process) {
  auto answer = process.qmp(R"({"execute":"query-version"})");
  if (!answer) return "unknown";
  const auto number = [&](const char* key) -> std::string {
    const auto at = answer->find(fmt::format("\"{}\": ", key));
    if (at == std::string::npos) return "?";
    const auto start = at + std::string_view(key).size() + 4;
    return answer->substr(start, answer->find_first_not_of("0123456789", start) - start);
  };
  std::string package;
  if (const auto at = answer->find("\"package\": \""); at != std::string::npos) {
    package = " (" + answer->substr(at + 12, answer->find('"', at + 12) - at - 12) + ")";
  }
  return number("major") + "." + number("minor") + "." + number("micro") + package;
}


bool expressible(const Op& op) {
  return std::holds_alternative<GuestRequest>(op) || std::holds_alternative<RawRequest>(op) ||
         std::holds_alternative<Resize>(op) || std::holds_alternative<SystemReset>(op) ||
         std::holds_alternative<VirtioReset>(op);
}

// FNV-1a, continued over `text`: the digest of QEMU's outcomes.
void mix(uint64_t& digest, const std::string& text) {
  if (digest == 0) digest = 0xcbf29ce484222325;
  for (const char c : text) digest = (digest ^ static_cast<uint8_t>(c)) * 0x100000001b3;
  digest = (digest ^ '\n') * 0x100000001b3;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += (text.empty() ? "" : "\n") + line;
  return text;
}

std::string memdev_of(const VirtioMemDevice& device) {
  return device.config().memdev.empty() ? fmt::format("mem{}", device.handle_id()) : device.config().memdev;
}

// A memslot decision as both sides state it: how many memslots of what size.
std::string decision_text(const std::vector<uint64_t>& sizes) {
  if (sizes.empty()) return "one memslot, the whole backend (no memslot-N children)";
  std::string text = fmt::format("{} memslot{} of {}", sizes.size(), sizes.size() == 1 ? "" : "s", format_size(sizes[0]));
  for (size_t i = 1; i < sizes.size(); ++i) {
    if (sizes[i] != sizes[0]) text += fmt::format(", memslot-{} {}", i, format_size(sizes[i]));
  }
  return text;
}

// The core's decision in QEMU's terms: a static device's backend is mapped
// whole and has no memslot children, which QEMU creates only with dynamic-memslots.
std::vector<uint64_t> core_decision(const VirtioMemDevice& device) {
  std::vector<uint64_t> sizes;
  if (device.config().mode == MemslotMode::Static) return sizes;
  for (uint64_t i = 0; i < device.layout().count; ++i) sizes.push_back(device.layout().length(i));
  return sizes;
}

// The core's device-memory tree, as render_mtree draws it; with Plant::Memslot
// the first unmapped memslot of a device that maps one is drawn mapped too.
std::vector<std::string> core_tree(const Machine& machine, Plant plant) {
  std::vector<std::string> tree = lines_of(render_mtree(machine));
  if (plant != Plant::Memslot) return tree;
  for (const VirtioMemDevice* device : machine.devices()) {
    if (device->config().mode == MemslotMode::Static) continue;
    const auto& mapped = device->mapped_flags();
    const bool any = std::find(mapped.begin(), mapped.end(), 1) != mapped.end();
    const auto unmapped = std::find(mapped.begin(), mapped.end(), 0);
    if (!any || unmapped == mapped.end()) continue;
    const uint64_t index = static_cast<uint64_t>(unmapped - mapped.begin());
    const SlotMapping s = device->slot(index);
    const auto range = [](uint64_t start, uint64_t size) { return fmt::format("{:016x}-{:016x}", start, start + size - 1); };
    const std::string line = fmt::format("    {} (prio 0, ram): alias memslot-{} @{} {}", range(s.gpa, s.size), index,
                                         memdev_of(*device), range(s.backing_offset, s.size));
    // Aliases are listed by address, and fixed-width hex sorts as text.
    auto at = std::find_if(tree.begin() + 1, tree.end(), [&](const std::string& l) {
      return l.rfind("    ", 0) == 0 && l > line;
    });
    tree.insert(at, line);
    break;
  }
  return tree;
}

}  // namespace

Result<QemuVersion> detect_version(const std::string& binary) {
  auto text = probe_version(binary);
  if (!text) return text.error();
  const auto second_dot = text->find('.', text->find('.') + 1);
  const std::string release = text->substr(0, std::min(second_dot, text->find(' ')));
  if (auto version = parse_qemu_version(release)) return *version;
  return Error{fmt::format("'{}' is QEMU {}; vmemcheck models QEMU 7.2 and 10.0 (--qemu-version)", binary, *text)};
}

std::string installed_binary(QemuVersion version) {
  return version == QemuVersion::V7_2 ? "qemu-system-x86_64" : "/opt/vmemcheck/qemu-10.0/usr/bin/qemu-system-x86_64";
}

// The fuzz geometries (cycled by seed; `requested` is where a sequence
// starts, resizes move it). Each dynamic one has an area that gives it
// several memslots, and one has a short last memslot.
std::vector<FuzzGeometry> qemu_geometries(QemuVersion version) {
  static const std::vector<FuzzGeometry> all = {
      {4 * GiB, 2 * MiB, 1 * GiB, true, MemslotMode::Dynamic, 8 * GiB, QemuVersion::V7_2},  // 4 x 1 GiB
      {4 * GiB, 2 * MiB, 0, true, MemslotMode::Dynamic, 5 * GiB, QemuVersion::V7_2},  // nothing requested: nothing usable
      {512 * MiB, 4 * MiB, 64 * MiB, false, MemslotMode::Static, 2 * GiB, QemuVersion::V7_2},  // legacy: unplugged stays accessible
      {8 * GiB, 128 * MiB, 1 * GiB, true, MemslotMode::Dynamic, 16 * GiB, QemuVersion::V7_2},  // 8 x 1 GiB
      {3584 * MiB, 2 * MiB, 2 * GiB, true, MemslotMode::Dynamic, 4 * GiB, QemuVersion::V7_2},  // 3 x 1 GiB and 512 MiB
      {256 * MiB, 1 * MiB, 256 * MiB, true, MemslotMode::Static, 2 * GiB, QemuVersion::V7_2},  // the smallest block, all requested
      {2 * GiB, 1 * GiB, 0, false, MemslotMode::Static, 4 * GiB, QemuVersion::V7_2},  // 1 GiB blocks, nothing requested
      {1 * TiB, 2 * MiB, 1 * GiB, true, MemslotMode::Dynamic, 1100 * GiB, QemuVersion::V10_0},  // 238 x 4406 MiB
  };
  std::vector<FuzzGeometry> runnable;
  for (const auto& g : all) {
    if (version == QemuVersion::V10_0 || g.since == QemuVersion::V7_2) runnable.push_back(g);
  }
  return runnable;
}

Scenario random_qemu_scenario(uint64_t seed, const FuzzGeometry& g, uint64_t ops) {
  SeededChoices choices(seed);
  ScenarioBuilder builder(choices, {});
  ConfigureMachine machine;
  machine.machine.device_memory_base = kQemuDeviceMemoryBase;
  machine.machine.device_memory_size = g.device_memory;
  builder.add(machine);
  DeviceConfig config;
  config.id = "vmem0";
  config.region_size = g.region;
  config.block_size = g.block;
  config.requested_size = g.requested;
  config.unplugged_inaccessible = g.unplugged_inaccessible;
  config.mode = g.mode;
  builder.add_device(config);
  // Half the ops from the shared builder (edge-biased, often invalid), half
  // well-formed requests on aligned blocks near the usable region, so that
  // plugged, mixed and NACKed states are reached too.
  const uint64_t blocks = g.region / g.block;
  const uint64_t near_usable = std::min(blocks, (g.requested + 256 * MiB) / g.block + 4);
  for (uint64_t i = 0; i < 4 * ops + 16; ++i) {
    if (builder.chance(2)) {
      builder.add_op();
      continue;
    }
    const auto type = builder.pick(std::vector{RequestType::Plug, RequestType::Plug, RequestType::Unplug,
                                               RequestType::State, RequestType::State});
    const uint64_t first = builder.below(builder.chance(2) ? std::min<uint64_t>(near_usable, 16) : near_usable);
    const auto nb = static_cast<uint16_t>(1 + builder.below(builder.chance(4) ? 64 : 8));
    builder.add(GuestRequest{config.id, type, {first * g.block, true}, nb});
  }
  Scenario all = builder.take(fmt::format("qemu-{}", seed));
  Scenario out{all.name, {}};
  uint64_t kept = 0;
  for (auto& step : all.steps) {
    const bool setup = std::holds_alternative<ConfigureMachine>(step.op) || std::holds_alternative<AddDevice>(step.op);
    if (!setup && (!expressible(step.op) || kept == ops)) continue;
    if (!setup) ++kept;
    out.steps.push_back(std::move(step));
  }
  return out;
}

std::string describe(const Difference& d) {
  const std::string where = fmt::format("step {}{}: {}: {} difference", d.step + 1,
                                        d.line ? fmt::format(" (line {})", d.line) : "", d.op_text, d.what);
  if (d.ours.find('\n') == std::string::npos && d.qemu.find('\n') == std::string::npos) {
    return fmt::format("{}: vmemcheck {}, QEMU {}", where, d.ours, d.qemu);
  }
  const auto indented = [](const std::string& text) {
    std::string out;
    for (const auto& line : lines_of(text)) out += "\n    " + line;
    return out;
  };
  return fmt::format("{}:\n  vmemcheck:{}\n  QEMU:{}", where, indented(d.ours), indented(d.qemu));
}

namespace {

// What a device looks like right after QEMU started: a reset for reuse must
// give exactly this again.
struct FreshState {
  DeviceState device;
  uint64_t offered = 0;
  friend bool operator==(const FreshState&, const FreshState&) = default;
};

Result<FreshState> read_state(VirtioMemPci& device) {
  auto state = device.read_state(true);
  if (!state) return state.error();
  return FreshState{std::move(*state), device.offered_features()};
}

std::string pool_key(const std::string& binary, const QemuGeometry& geometry) {
  std::string key = binary;
  for (const auto& arg : qemu_arguments(geometry)) key += " " + arg;
  return key;
}

}  // namespace

struct QemuPool::Entry {
  std::string key;
  FreshState fresh;
  uint64_t requested = 0;
  std::unique_ptr<VirtioMemPci> device;  // null while handed out
};

QemuPool::QemuPool() = default;
QemuPool::~QemuPool() = default;

Result<std::unique_ptr<VirtioMemPci>> QemuPool::take(const std::string& binary, const QemuGeometry& geometry) {
  const std::string key = pool_key(binary, geometry);
  for (auto& entry : entries_) {
    if (entry.key != key || !entry.device) continue;
    std::unique_ptr<VirtioMemPci> device = std::move(entry.device);
    // requested-size first: the usable region only grows on a resize, and the
    // reset then shrinks it to what the start had.
    auto resized = device->resize(entry.requested);
    if (resized && !*resized && device->system_reset()) {
      if (auto state = read_state(*device); state && *state == entry.fresh) {
        ++reused_;
        return device;
      }
    }
    ++refused_;
  }
  auto started = VirtioMemPci::start(binary, geometry);
  if (!started) return started.error();
  auto fresh = read_state(**started);
  if (!fresh) return fresh.error();
  ++started_;
  const auto known = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (known == entries_.end()) {
    entries_.push_back(Entry{key, *fresh, geometry.requested_size, nullptr});
  } else if (known->fresh != *fresh) {
    return Error{"two fresh starts of the same QEMU command line differ: " + key};
  }
  return std::move(*started);
}

void QemuPool::give_back(const std::string& binary, const QemuGeometry& geometry, std::unique_ptr<VirtioMemPci> device) {
  const std::string key = pool_key(binary, geometry);
  for (auto& entry : entries_) {
    if (entry.key == key && !entry.device) {
      entry.device = std::move(device);
      return;
    }
  }
  auto fresh = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (fresh != entries_.end()) entries_.push_back(Entry{key, fresh->fresh, fresh->requested, std::move(device)});
}

DifferentialResult run_differential(const Scenario& scenario, const DifferentialOptions& options,
                                    const std::function<void(const DiffStepReport&)>& on_step) {
  DifferentialResult result;
  if (auto located = locate_binary(options.qemu); !located) {
    result.error = located.error().message;
    return result;
  }
  const QemuDeviceProfile& profile = qemu_profile(options.version);
  // With dynamic memslots the memslot decision depends on the memory-device
  // space (maxmem less boot RAM), so the core's machine takes QEMU's: from
  // 4 GiB on, reaching as far as the scenario's area does, with QEMU's limits
  // under TCG (no KVM limit, no vhost: KVM's 32764 memslots decide alike,
  // being above 509 and 256). 7.2 keeps the scenario's machine and gets a
  // space just fitting the device.
  const bool same_space = profile.dynamic_memslots;
  uint64_t scenario_base = MachineConfig{}.device_memory_base;
  Runner core;
  std::unique_ptr<VirtioMemPci> dut;
  std::optional<QemuGeometry> geometry;
  std::optional<std::string> device_id;
  bool compare_memslots = false;
  bool migrated_away = false;  // a migrated VM runs in a QEMU started with -incoming: not for reuse
  uint32_t numa_nodes = 1;
  const auto machine_for_qemu = [&](ConfigureMachine m) {
    scenario_base = std::max(m.machine.device_memory_base, kQemuDeviceMemoryBase);
    if (!same_space) return m;
    m.machine.device_memory_size += scenario_base - kQemuDeviceMemoryBase;
    m.machine.device_memory_base = kQemuDeviceMemoryBase;
    m.kvm.max_memslots = KvmLimits{}.max_memslots;
    return m;
  };

  for (size_t i = 0; i < scenario.steps.size() && !result.difference && !result.error; ++i) {
    Step step = scenario.steps[i];
    step.expected.reset();  // ops skipped on both sides may change outcomes; the sides are compared instead
    DiffStepReport report{i, step.line, to_text(step.op), "", "", std::nullopt};
    const auto differ = [&](std::string what, std::string ours, std::string theirs) {
      result.difference = Difference{i, step.line, report.op_text, std::move(what), std::move(ours), std::move(theirs)};
    };
    const auto skip = [&](std::string why) {
      report.skipped = std::move(why);
      ++result.skipped;
      ++result.skipped_kinds[kind_of(step.op)];
    };
    const auto fail = [&](const Error& error) { result.error = fmt::format("step {}: {}: {}", i + 1, report.op_text, error.message); };
    // Scenarios may start without a 'machine' line: the core's default one, made QEMU's.
    if (!core.machine() && !std::holds_alternative<ConfigureMachine>(step.op)) {
      core.step(Step{machine_for_qemu(ConfigureMachine{}), std::nullopt, 0});
    }
    // Runs the step on the core; false (a difference recorded) when the core
    // disagrees with its own reference model or breaks an invariant.
    const auto run_core = [&]() {
      const StepReport core_report = core.step(step);
      report.ours = core_report.outcome;
      if (!core_report.problems.empty()) {
        std::string problems;
        for (const auto& p : core_report.problems) problems += (problems.empty() ? "" : "; ") + p;
        differ("core vs reference model", problems, "(not consulted)");
        return false;
      }
      return true;
    };
    // Config space, needs-reset status and the device-memory tree after an op on the device.
    const auto compare_state = [&]() {
      const VirtioMemDevice* d = core.machine() ? core.machine()->find(*device_id) : nullptr;
      if (!d) return;
      auto theirs = dut->read_state(compare_memslots);
      if (!theirs) return fail(theirs.error());
      mix(result.digest, config_text(theirs->config));
      if (d->config_space() != theirs->config) {
        return differ("config", config_text(d->config_space()), config_text(theirs->config));
      }
      const bool broken = (theirs->status & kStatusNeedsReset) != 0;
      if (d->needs_reset() != broken) {
        return differ("needs-reset", d->needs_reset() ? "needs reset" : "running",
                      broken ? "needs reset (status 0x40)" : "running");
      }
      if (!compare_memslots) return;
      // The device's own regions: QEMU's device-memory container is 1 GiB
      // larger than the space the core models (pc's alignment room per slot).
      std::vector<std::string> ours = core_tree(*core.machine(), options.plant);
      std::vector<std::string>& qemu_tree = *theirs->tree;
      ours.erase(ours.begin());
      qemu_tree.erase(qemu_tree.begin());
      ++result.memslot_listings;
      mix(result.digest, joined(qemu_tree));
      if (ours != qemu_tree) differ("memslots (info mtree)", joined(ours), joined(qemu_tree));
    };
    const auto on_device = [&](const std::string& id) { return device_id && id == *device_id && dut; };
    // Whether QEMU has the core's memslot mode, so that memslots are compared; a note when not.
    const auto memslots_comparable = [&](MemslotMode mode) {
      if (mode == MemslotMode::Static || (mode == MemslotMode::Dynamic && profile.dynamic_memslots)) return true;
      result.notes.push_back(fmt::format("memslots not compared: QEMU {} has no mode={}", profile.name, name(mode)));
      return false;
    };
    // QEMU's memslot decision for the device beside the core's: false (a difference recorded) when they differ.
    const auto compare_decision = [&](const VirtioMemDevice& d) {
      auto decided = dut->decided_memslots();
      if (!decided) {
        fail(decided.error());
        return false;
      }
      result.decision = decision_text(*decided);
      report.qemu += ", " + result.decision;
      if (core_decision(d) == *decided) return true;
      differ("memslot decision", decision_text(core_decision(d)), result.decision);
      return false;
    };

    [&] {
      const Op& op = step.op;
      if (const auto* m = std::get_if<ConfigureMachine>(&op)) {
        if (device_id) {
          skip("the machine is set up once, before the device");
        } else {
          numa_nodes = m->machine.numa_nodes;
          step.op = machine_for_qemu(*m);
          run_core();
          report.qemu = "(q35 machine started with the device)";
          // A machine the core refuses for its phys-bits (DESIGN §7): QEMU
          // given the same machine must refuse it in the same words. (7.2's
          // machine is not the scenario's, and 7.2 skips the check at 32 bits.)
          const ConfigureMachine& machine = std::get<ConfigureMachine>(step.op);
          const Status addressable = check_phys_bits(machine.machine, machine.kvm.phys_bits);
          if (same_space && !addressable) {
            const std::vector<std::string> args{
                "-display", "none", "-nodefaults", "-machine", "q35", "-accel", "tcg", "-cpu",
                fmt::format("max,phys-bits={},vendor=GenuineIntel", machine.kvm.phys_bits), "-m",
                fmt::format("128M,maxmem={}B,slots=1", 128 * MiB + machine.machine.device_memory_size)};
            auto started = QemuProcess::launch({options.qemu, args, 20000});
            report.qemu = started ? "started" : "refused: " + started.error().message;
            // Not the message: where QEMU's start was when it exited varies.
            mix(result.digest, started ? "started" : "refused");
            if (started || started.error().message.find(addressable.error().message) == std::string::npos) {
              differ("machine", report.ours, report.qemu);
            }
          }
        }
      } else if (const auto* a = std::get_if<AddDevice>(&op)) {
        const MachineConfig& machine = core.machine()->config();
        DeviceConfig wanted = a->config;
        // One device per QEMU run: it sits where the scenario's first fit would put it.
        if (same_space && !wanted.addr) wanted.addr = scenario_base;
        auto on_qemu = as_on_qemu(wanted, options.version);
        // QEMU's device-memory region: the space plus 1 GiB of alignment room.
        const uint64_t area_end = same_space ? machine.device_memory_base + machine.device_memory_size + GiB : 0;
        const bool large = same_space && area_end > max_area_end(false);
        if (device_id) {
          skip("only one device per QEMU run");
        } else if (!on_qemu) {
          skip("not expressible on QEMU " + std::string(profile.name) + ": " + on_qemu.error().message);
        } else if (auto why = inexpressible(*on_qemu, numa_nodes, area_end, large)) {
          skip("not expressible on QEMU: " + *why);
        } else {
          device_id = a->config.id;
          step.op = AddDevice{*on_qemu};
          if (!run_core()) return;
          const VirtioMemDevice* d = core.machine()->find(a->config.id);
          // The machine's KVM memslot budget (kvm-memslots=, vhost) has no QEMU counterpart under TCG.
          if (!d && report.ours.find("memslots") != std::string::npos) {
            device_id.reset();
            return skip("refused by the machine's memslot budget, which QEMU under TCG does not have");
          }
          DeviceConfig config = d ? d->config() : *on_qemu;
          compare_memslots = memslots_comparable(config.mode);
          QemuGeometry g{config.id, d ? memdev_of(*d) : config.memdev, config.region_size, config.block_size,
                         config.requested_size, config.addr, config.unplugged_inaccessible, std::nullopt,
                         config.node, numa_nodes, same_space ? machine.device_memory_size : 0,
                         options.version != QemuVersion::V7_2, large};
          if (profile.dynamic_memslots) g.dynamic_memslots = config.mode == MemslotMode::Dynamic;
          auto started = options.pool ? options.pool->take(options.qemu, g) : VirtioMemPci::start(options.qemu, g);
          if (!started) {
            // QEMU names the option it refused: the device (or its memory backend), or our own arguments.
            const std::string& message = started.error().message;
            const bool refused = message.rfind("QEMU exited", 0) == 0 &&
                                 (message.find("-device virtio-mem-pci") != std::string::npos ||
                                  message.find("-object memory-backend-ram,id=" + g.memdev) != std::string::npos);
            report.qemu = "refused: " + started.error().message;
            mix(result.digest, report.qemu);
            if (!refused) fail(started.error());
            else if (d) differ("device", report.ours, report.qemu);
            device_id.reset();
            return;
          }
          dut = std::move(*started);
          geometry = g;
          result.qemu_version = version_of(dut->process());
          report.qemu = fmt::format("ok addr={:#x} features={:#x}", dut->config() ? dut->config()->addr : 0,
                                    dut->offered_features());
          mix(result.digest, report.qemu);
          if (!d) return differ("device", report.ours, report.qemu);
          if ((dut->offered_features() & 0xffffff) != offered_features(d->config())) {
            return differ("offered features", fmt::format("{:#x}", offered_features(d->config())),
                          fmt::format("{:#x} (device-specific bits of {:#x})", dut->offered_features() & 0xffffff,
                                      dut->offered_features()));
          }
          if (compare_memslots && !compare_decision(*d)) return;
          compare_state();
        }
      } else if (const auto* g = std::get_if<GuestRequest>(&op); g && on_device(g->device)) {
        if (!run_core()) return;
        const uint64_t addr = g->addr.relative ? core.machine()->find(g->device)->addr() + g->addr.value : g->addr.value;
        auto answer = dut->request({static_cast<uint16_t>(g->type), addr, g->nb_blocks, kRequestSize, kResponseSize});
        if (!answer) {
          fail(answer.error());
          return;
        }
        report.qemu = outcome_of(answer->response, g->type == RequestType::State);
        ++result.answers[report.qemu];
        mix(result.digest, report.qemu);
        std::string ours = normalized(report.ours);
        if (options.plant == Plant::Response && ours == "ACK UNPLUGGED") ours = "ACK PLUGGED";
        if (ours != report.qemu) differ("response", ours, report.qemu);
        else if (answer->response && answer->used_len != kResponseSize)
          differ("used length", fmt::format("{}", kResponseSize), fmt::format("{}", answer->used_len));
        else compare_state();
      } else if (const auto* r = std::get_if<RawRequest>(&op); r && on_device(r->device)) {
        if (r->readable > VirtioMemPci::kMaxPart || r->writable > VirtioMemPci::kMaxPart) {
          skip("chain parts longer than the driver's 64 KiB buffers");
        } else {
          if (!run_core()) return;
          const uint64_t addr = r->addr.relative ? core.machine()->find(r->device)->addr() + r->addr.value : r->addr.value;
          auto answer = dut->request({r->type, addr, r->nb_blocks, r->readable, r->writable});
          if (!answer) {
            fail(answer.error());
            return;
          }
          report.qemu = outcome_of(answer->response, r->type == static_cast<uint16_t>(RequestType::State));
          ++result.answers[report.qemu];
          mix(result.digest, report.qemu);
          std::string ours = normalized(report.ours);
          if (options.plant == Plant::Response && ours == "ACK UNPLUGGED") ours = "ACK PLUGGED";
          if (ours != report.qemu) differ("response", ours, report.qemu);
          else compare_state();
        }
      } else if (const auto* rs = std::get_if<Resize>(&op); rs && on_device(rs->device)) {
        if (!run_core()) return;
        auto refused = dut->resize(rs->requested);
        if (!refused) {
          fail(refused.error());
          return;
        }
        report.qemu = *refused ? "error: " + **refused : "ok";
        mix(result.digest, report.qemu);
        if ((report.ours == "ok") != !*refused) differ("resize", report.ours, report.qemu);
        else compare_state();
      } else if (std::holds_alternative<SystemReset>(op) && dut) {
        if (!run_core()) return;
        if (auto reset = dut->system_reset(); !reset) {
          fail(reset.error());
          return;
        }
        report.qemu = "ok";
        compare_state();
      } else if (const auto* v = std::get_if<VirtioReset>(&op); v && on_device(v->device)) {
        if (!run_core()) return;
        if (auto reset = dut->virtio_reset(); !reset) {
          fail(reset.error());
          return;
        }
        report.qemu = "ok";
        compare_state();
      } else if (std::holds_alternative<GuestRequest>(op) || std::holds_alternative<RawRequest>(op) ||
                 std::holds_alternative<Resize>(op) || std::holds_alternative<VirtioReset>(op) ||
                 std::holds_alternative<SystemReset>(op)) {
        skip("not on the device QEMU runs");
      } else if (const auto* mg = std::get_if<Migrate>(&op); mg && on_device(mg->device)) {
        if (!run_core()) return;
        if (report.ours != "ok") {
          return skip("the core refused the destination (" + report.ours + "), so QEMU does not migrate");
        }
        const VirtioMemDevice& d = *core.machine()->find(mg->device);
        compare_memslots = memslots_comparable(d.config().mode);
        QemuGeometry destination = *geometry;
        if (profile.dynamic_memslots) destination.dynamic_memslots = d.config().mode == MemslotMode::Dynamic;
        if (auto migrated = dut->migrate(options.qemu, destination, d.config_space().plugged_size); !migrated) {
          return fail(migrated.error());
        }
        geometry = destination;
        migrated_away = true;
        report.qemu = "ok";
        mix(result.digest, report.qemu);
        if (compare_memslots && !compare_decision(d)) return;
        compare_state();
      } else if (std::holds_alternative<SetBusy>(op)) {
        skip("QEMU is busy only during a migration");
      } else if (const auto* f = std::get_if<NegotiateFeatures>(&op); f && on_device(f->device)) {
        const VirtioMemDevice* d = core.machine()->find(f->device);
        if (d->needs_reset()) return skip("features: QEMU's negotiation resets the device, which needs a reset");
        if (!run_core()) return;
        auto kept = dut->try_features(f->driver_features);
        if (!kept) return fail(kept.error());
        report.qemu = *kept ? "ok (FEATURES_OK kept)" : "error (FEATURES_OK refused)";
        mix(result.digest, report.qemu);
        if ((report.ours == "ok") != *kept) differ("features", report.ours, report.qemu);
        else compare_state();
      } else if (std::holds_alternative<Expect>(op)) {
        skip("both sides' config spaces are compared after every op instead");
      } else if (std::holds_alternative<ShowMtree>(op) || std::holds_alternative<ShowSlots>(op)) {
        skip(compare_memslots ? "the device-memory trees are compared after every op instead"
                              : "memslots are not compared for this device (see the notes)");
      } else if (std::holds_alternative<GuestAccess>(op)) {
        skip("guest reads and writes: the driver does not access device memory");
      } else {
        skip("not expressible on QEMU (faults, vhost, raw rings, device removal)");
      }
}();
    if (!report.skipped && !result.error) ++result.compared;
    if (on_step) on_step(report);
  }
  if (options.pool && dut && !result.error && !migrated_away) {
    options.pool->give_back(options.qemu, *geometry, std::move(dut));
  }
  return result;
}

}  // namespace vmemcheck::qemu
