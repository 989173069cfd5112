#include "differential.hpp"

#include <memory>
#include <type_traits>

#include <fmt/format.h>

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

}  // namespace

const std::vector<FuzzGeometry> kQemuGeometries = {
    {1 * GiB, 2 * MiB, 128 * MiB, true},
    {4 * GiB, 2 * MiB, 0, true},            // nothing requested: nothing usable
    {512 * MiB, 4 * MiB, 64 * MiB, false},  // legacy: unplugged memory stays accessible
    {8 * GiB, 128 * MiB, 1 * GiB, true},
    {256 * MiB, 1 * MiB, 256 * MiB, true},  // the smallest block, everything requested
    {2 * GiB, 1 * GiB, 0, false},           // 1 GiB blocks, nothing requested
};

Scenario random_qemu_scenario(uint64_t seed, size_t geometry, uint64_t ops) {
  const FuzzGeometry& g = kQemuGeometries[geometry % kQemuGeometries.size()];
  SeededChoices choices(seed);
  ScenarioBuilder builder(choices, {});
  builder.add(ConfigureMachine{});
  DeviceConfig config;
  config.id = "vmem0";
  config.region_size = g.region;
  config.block_size = g.block;
  config.requested_size = g.requested;
  config.unplugged_inaccessible = g.unplugged_inaccessible;
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
  return fmt::format("step {}{}: {}: {} difference: vmemcheck {}, QEMU {}", d.step + 1,
                     d.line ? fmt::format(" (line {})", d.line) : "", d.op_text, d.what, d.ours, d.qemu);
}

DifferentialResult run_differential(const Scenario& scenario, const DifferentialOptions& options,
                                    const std::function<void(const DiffStepReport&)>& on_step) {
  DifferentialResult result;
  if (auto located = locate_binary(options.qemu); !located) {
    result.error = located.error().message;
    return result;
  }
  Runner core;
  std::unique_ptr<VirtioMemPci> dut;
  std::optional<std::string> device_id;
  uint32_t numa_nodes = 1;

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
    // Config space and needs-reset status after an op on the device.
    const auto compare_state = [&]() {
      const VirtioMemDevice* d = core.machine() ? core.machine()->find(*device_id) : nullptr;
      if (!d) return;
      auto theirs = dut->config();
      if (!theirs) return fail(theirs.error());
      if (d->config_space() != *theirs) return differ("config", config_text(d->config_space()), config_text(*theirs));
      auto broken = dut->needs_reset();
      if (!broken) return fail(broken.error());
      if (d->needs_reset() != *broken) {
        differ("needs-reset", d->needs_reset() ? "needs reset" : "running", *broken ? "needs reset (status 0x40)" : "running");
      }
    };
    const auto on_device = [&](const std::string& id) { return device_id && id == *device_id && dut; };

    [&] {
      const Op& op = step.op;
      if (const auto* m = std::get_if<ConfigureMachine>(&op)) {
        if (device_id) {
          skip("the machine is set up once, before the device");
        } else {
          numa_nodes = m->machine.numa_nodes;
          run_core();
          report.qemu = "(q35 machine started with the device)";
        }
      } else if (const auto* a = std::get_if<AddDevice>(&op)) {
        if (device_id) {
          skip("only one device per QEMU run");
        } else if (auto why = inexpressible(a->config, numa_nodes)) {
          skip("not expressible on QEMU: " + *why);
        } else {
          device_id = a->config.id;
          if (!run_core()) return;
          const VirtioMemDevice* d = core.machine()->find(a->config.id);
          // The machine's KVM memslot budget (kvm-memslots=, vhost) has no QEMU counterpart under TCG.
          if (!d && report.ours.find("memslots") != std::string::npos) {
            device_id.reset();
            return skip("refused by the machine's memslot budget, which QEMU under TCG does not have");
          }
          DeviceConfig config = d ? d->config() : a->config;
          QemuGeometry g{config.id, config.region_size, config.block_size, config.requested_size, config.addr,
                         config.unplugged_inaccessible, config.node, numa_nodes};
          auto started = VirtioMemPci::start(options.qemu, g);
          if (!started) {
            // QEMU names the option it refused: the device (or its memory backend), or our own arguments.
            const std::string& message = started.error().message;
            const bool refused = message.rfind("QEMU exited", 0) == 0 &&
                                 (message.find("-device virtio-mem-pci") != std::string::npos ||
                                  message.find("-object memory-backend-ram,id=mem-") != std::string::npos);
            report.qemu = "refused: " + started.error().message;
            if (!refused) fail(started.error());
            else if (d) differ("device", report.ours, report.qemu);
            device_id.reset();
          } else {
            dut = std::move(*started);
            result.qemu_version = version_of(dut->process());
            report.qemu = fmt::format("ok addr={:#x} features={:#x}", dut->config() ? dut->config()->addr : 0,
                                      dut->offered_features());
            if (!d) differ("device", report.ours, report.qemu);
            else if ((dut->offered_features() & 0xffffff) != offered_features(d->config()))
              differ("offered features", fmt::format("{:#x}", offered_features(d->config())),
                     fmt::format("{:#x} (device-specific bits of {:#x})", dut->offered_features() & 0xffffff,
                                 dut->offered_features()));
            else compare_state();
          }
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
        std::string ours = normalized(report.ours);
        if (options.plant_difference && ours == "ACK UNPLUGGED") ours = "ACK PLUGGED";
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
          std::string ours = normalized(report.ours);
          if (options.plant_difference && ours == "ACK UNPLUGGED") ours = "ACK PLUGGED";
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
      } else if (std::holds_alternative<SetBusy>(op)) {
        skip("QEMU is busy only during a migration");
      } else if (const auto* f = std::get_if<NegotiateFeatures>(&op); f && on_device(f->device)) {
        const VirtioMemDevice* d = core.machine()->find(f->device);
        if (d->needs_reset()) return skip("features: QEMU's negotiation resets the device, which needs a reset");
        if (!run_core()) return;
        auto kept = dut->try_features(f->driver_features);
        if (!kept) return fail(kept.error());
        report.qemu = *kept ? "ok (FEATURES_OK kept)" : "error (FEATURES_OK refused)";
        if ((report.ours == "ok") != *kept) differ("features", report.ours, report.qemu);
        else compare_state();
      } else if (std::holds_alternative<Expect>(op)) {
        skip("both sides' config spaces are compared after every op instead");
      } else if (std::holds_alternative<GuestAccess>(op) || std::holds_alternative<ShowMtree>(op) ||
                 std::holds_alternative<ShowSlots>(op)) {
        skip("QEMU 7.2 maps the whole device (no dynamic memslots): memslots and guest views are not compared");
      } else {
        skip("not expressible on QEMU (faults, migration, vhost, raw rings, device removal)");
      }
}();
    if (!report.skipped && !result.error) ++result.compared;
    if (on_step) on_step(report);
  }
  return result;
}

}  // namespace vmemcheck::qemu
