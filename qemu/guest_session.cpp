#include "guest_session.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "qemu_probe.hpp"
#include "mtree_parser.hpp"
#include "qemu_process.hpp"
#include "qmp_client.hpp"

namespace vmemcheck::qemu {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<std::string> qemu_arguments(const GuestSessionOptions& o, bool dynamic_memslots, const std::string& trace) {
  const GuestGeometry& g = o.geometry;
  std::vector<std::string> args{"-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1",
                                "-m", fmt::format("{}M,maxmem={}M,slots=1", g.boot_ram / MiB, g.maxmem / MiB)};
  for (const GuestDevice& d : g.devices) {
    args.insert(args.end(), {"-object", fmt::format("memory-backend-ram,id={},size={}M,reserve=off", d.memdev, d.region_size / MiB),
                             "-device", fmt::format("virtio-mem-pci,id={},memdev={},block-size={}M,requested-size={}M,"
                                                    "dynamic-memslots={}", d.id, d.memdev, g.block_size / MiB,
                                                    d.initial_size / MiB, dynamic_memslots ? "on" : "off")});
  }
  std::vector<std::string> rest{
          "-kernel", o.kernel, "-initrd", o.initrd,
          // The kernel onlines what the driver plugs, movable: with memhp_default_state=online
          // its own unmovable allocations landed in device memory and a resize to 0 stopped
          // at 4 MiB for 240 s. quiet keeps the console for the guest's answers.
          "-append", "console=ttyS0 quiet panic=-1 memhp_default_state=online_movable",
          "-display", "none", "-monitor", "none", "-nic", "none", "-no-reboot",
          "-trace", fmt::format("virtio_mem_*,file={}", trace)};
  args.insert(args.end(), rest.begin(), rest.end());
  return args;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t line_count(const std::string& path) {
  const std::string text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The text after its first `lines` lines.
std::string without_lines(const std::string& text, size_t lines) {
  size_t at = 0;
  for (size_t i = 0; i < lines && at != std::string::npos; ++i) {
    at = text.find('\n', at);
    if (at != std::string::npos) ++at;
  }
  return at == std::string::npos ? std::string() : text.substr(at);
}

LaunchOptions launch_options(const GuestSessionOptions& o, bool dynamic_memslots, const std::string& trace) {
  LaunchOptions launch;
  launch.binary = o.binary;
  launch.args = qemu_arguments(o, dynamic_memslots, trace);
  launch.qtest = false;
  launch.console = true;
  return launch;
}

// One guest run, step by step.
class Session {
 public:
  Session(const GuestSessionOptions& options, std::unique_ptr<QemuProcess> process, std::string version)
      : o_(options), process_(std::move(process)), qmp_(std::make_unique<QmpClient>(*process_)) {
    session_.qemu_version = std::move(version);
    traces_.push_back({o_.trace_path, 0});
  }

  Status boot(Clock::time_point started);
  Status resize(const PlannedResize& resize);
  // Waits for the guest to converge on every device's requested size, then
  // records a checkpoint of each and the guest's memory check.
  Status checkpoint();
  // The guest holds its pattern while the VM migrates to a QEMU with
  // dynamic-memslots the other way; then it checks the pattern there.
  Status migrate();
  Result<GuestSession> finish();

 private:
  Result<uint64_t> qom_size(const std::string& id, const std::string& property);
  size_t trace_events() const;
  // Waits until QOM's size of device `index` is its requested size: that size.
  Result<uint64_t> converge(size_t index);
  Result<std::vector<MtreeRegion>> device_tree(uint64_t addr);
  Status guest_check(GuestMemoryReport& report);

  Result<std::string> console_line_with(std::string_view text, const std::string& what, GuestMemoryReport* report);

  // A trace file and how many of its lines came before the VM arrived (the
  // destination's own start): the recording is their events in order.
  struct Trace {
    std::string path;
    size_t skipped = 0;
  };

  const GuestSessionOptions& o_;
  std::unique_ptr<QemuProcess> process_;
  std::unique_ptr<QmpClient> qmp_;
  bool dynamic_memslots_ = true;
  std::vector<Trace> traces_;
  GuestSession session_;
  std::vector<uint64_t> requested_;  // per device, as last set
  std::vector<uint64_t> addrs_;      // per device, as QOM's memaddr
};

Result<uint64_t> Session::qom_size(const std::string& id, const std::string& property) {
  auto reply = qmp_->execute("qom-get", {{"path", "/machine/peripheral/" + id}, {"property", property}});
  if (!reply) return reply.error();
  if (!reply->ok() || !reply->value->is_number_unsigned()) {
    return Error{fmt::format("qom-get {}: {}", property, reply->ok() ? reply->value->dump() : reply->error)};
  }
  return reply->value->get<uint64_t>();
}

size_t Session::trace_events() const {
  size_t events = 0;
  for (const Trace& t : traces_) events += line_count(t.path) - t.skipped;
  return events;
}

Status Session::boot(Clock::time_point started) {
  if (auto shaken = qmp_->handshake(); !shaken) return shaken;
  const auto deadline = started + std::chrono::seconds(o_.boot_seconds);
  for (;;) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) return Error{fmt::format("the guest was not ready within {} s", o_.boot_seconds)};
    auto line = process_->read_console_line("waiting for the guest's ready line", left);
    if (!line) return line.error();
    if (line->find("vmemcheck-guest: insmod") != std::string::npos) return Error{"the guest: " + *line};
    if (const auto at = line->find("vmemcheck-guest: ready ("); at != std::string::npos) {
      const auto release = at + std::string_view("vmemcheck-guest: ready (").size();
      session_.kernel_release = line->substr(release, line->find(')', release) - release);
      break;
    }
  }
  session_.boot_seconds = seconds_since(started);
  for (const GuestDevice& d : o_.geometry.devices) {
    auto addr = qom_size(d.id, "memaddr");
    if (!addr) return addr.error();
    addrs_.push_back(*addr);
    requested_.push_back(d.initial_size);
  }
  return ok_status();
}

Status Session::resize(const PlannedResize& r) {
  const std::string& id = o_.geometry.devices[r.device].id;
  session_.recording.marks.push_back({trace_events(), RecordedResize{id, r.size}});
  auto reply = qmp_->execute("qom-set", {{"path", "/machine/peripheral/" + id}, {"property", "requested-size"}, {"value", r.size}});
  if (!reply) return reply.error();
  if (!reply->ok()) return Error{fmt::format("qom-set {} requested-size {}: {}", id, r.size, reply->error)};
  requested_[r.device] = r.size;
  return ok_status();
}

Result<std::vector<MtreeRegion>> Session::device_tree(uint64_t addr) {
  auto reply = qmp_->execute("human-monitor-command", {{"command-line", "info mtree"}});
  if (!reply) return reply.error();
  if (!reply->ok() || !reply->value->is_string()) return Error{"info mtree: " + reply->error};
  auto tree = device_memory_tree(reply->value->get<std::string>());
  if (!tree) return tree.error();
  return device_subtree(*tree, addr);
}

Result<uint64_t> Session::converge(size_t index) {
  const GuestDevice& device = o_.geometry.devices[index];
  const uint64_t requested = requested_[index];
  const auto started = Clock::now();
  auto plugged = qom_size(device.id, "size");
  for (; plugged && *plugged != requested; plugged = qom_size(device.id, "size")) {
    if (seconds_since(started) > o_.converge_seconds) {
      return Error{fmt::format("the guest did not converge on {} for {} within {} s: QEMU's size is {}",
                               format_size(requested), device.id, o_.converge_seconds, format_size(*plugged))};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return plugged;
}

Status Session::checkpoint() {
  const auto started = Clock::now();
  GuestMemoryReport report;
  for (size_t i = 0; i < o_.geometry.devices.size(); ++i) {
    auto plugged = converge(i);
    if (!plugged) return plugged.error();
    report.plugged += *plugged;
  }
  session_.converge_seconds.push_back(seconds_since(started));
  report.events_before = trace_events();
  for (size_t i = 0; i < o_.geometry.devices.size(); ++i) {
    auto tree = device_tree(addrs_[i]);
    if (!tree) return tree.error();
    auto plugged = qom_size(o_.geometry.devices[i].id, "size");
    if (!plugged) return plugged.error();
    session_.recording.marks.push_back(
        {report.events_before, RecordedCheckpoint{o_.geometry.devices[i].id, *plugged, requested_[i], std::move(*tree)}});
  }
  if (auto checked = guest_check(report); !checked) return checked;
  session_.reports.push_back(std::move(report));
  return ok_status();
}

Status Session::guest_check(GuestMemoryReport& report) {
  if (auto sent = process_->send_console("check"); !sent) return sent;
  for (;;) {
    auto line = process_->read_console_line("waiting for the guest's memory check", o_.converge_seconds * 1000);
    if (!line) return line.error();
    if (line->find("vmemcheck-guest: checked") != std::string::npos) return ok_status();
    if (auto read = read_report_line(*line, report); !read) return read;
  }
}

Result<std::string> Session::console_line_with(std::string_view text, const std::string& what, GuestMemoryReport* report) {
  std::vector<std::string> seen;  // the guest's last lines, for the error
  for (;;) {
    auto line = process_->read_console_line(what, o_.converge_seconds * 1000);
    if (!line) {
      std::string lines;
      for (const std::string& l : seen) lines += "\n  guest: " + l;
      return Error{line.error().message + lines, line.error().code};
    }
    if (line->find(text) != std::string::npos) return line;
    if (seen.size() == 30) seen.erase(seen.begin());
    seen.push_back(*line);
    if (report) {
      if (auto read = read_report_line(*line, *report); !read) return read.error();
    }
  }
}

Status Session::migrate() {
  if (auto sent = process_->send_console("hold"); !sent) return sent;
  GuestMemoryReport held;
  auto holding = console_line_with("vmemcheck-hold:", "waiting for the guest to hold its pattern", nullptr);
  if (!holding) return holding.error();
  // The destination: the same machine with dynamic-memslots the other way, its own trace.
  const bool destination_dynamic = !dynamic_memslots_;
  const std::string trace = fmt::format("{}.{}", o_.trace_path, traces_.size());
  std::filesystem::remove(trace);
  LaunchOptions launch = launch_options(o_, destination_dynamic, trace);
  launch.args.insert(launch.args.end(), {"-incoming", "defer"});
  auto incoming = QemuProcess::launch(launch);
  if (!incoming) return incoming.error();
  auto incoming_qmp = std::make_unique<QmpClient>(**incoming);
  if (auto greeted = incoming_qmp->handshake(); !greeted) return greeted;
  traces_.push_back({trace, line_count(trace)});
  session_.recording.marks.push_back({trace_events(), RecordedMigration{destination_dynamic ? "dynamic" : "static"}});
  // The guest keeps rewriting its pattern: auto-converge throttles it if
  // QEMU cannot send the dirty pages as fast (a UNIX socket, no bandwidth cap).
  const nlohmann::json capabilities{{"capabilities", {{{"capability", "auto-converge"}, {"state", true}}}}};
  for (QmpClient* qmp : {qmp_.get(), incoming_qmp.get()}) {
    auto reply = qmp->execute("migrate-set-capabilities", capabilities);
    if (!reply) return reply.error();
    if (!reply->ok()) return Error{"migrate-set-capabilities: " + reply->error};
  }
  auto limits = qmp_->execute("migrate-set-parameters", {{"max-bandwidth", 8 * GiB}, {"downtime-limit", 1000}});
  if (!limits) return limits.error();
  if (!limits->ok()) return Error{"migrate-set-parameters: " + limits->error};
  const std::string uri = "unix:" + (*incoming)->directory() + "/migration.sock";
  const auto started = Clock::now();
  for (auto [qmp, command] : {std::pair{incoming_qmp.get(), "migrate-incoming"}, {qmp_.get(), "migrate"}}) {
    auto reply = qmp->execute(command, {{"uri", uri}});
    if (!reply) return reply.error();
    if (!reply->ok()) return Error{fmt::format("{}: {}", command, reply->error)};
  }
  if (auto done = wait_for_migration(*qmp_, "source", o_.converge_seconds * 1000, 100); !done) return done;
  if (auto done = wait_for_migration(*incoming_qmp, "destination", o_.converge_seconds * 1000, 100); !done) return done;
  session_.migration_seconds.push_back(seconds_since(started));
  (void)qmp_->execute("quit");
  qmp_ = std::move(incoming_qmp);
  process_ = std::move(*incoming);
  dynamic_memslots_ = destination_dynamic;
  // The destination runs the guest: it checks the pattern it held.
  if (auto sent = process_->send_console("release"); !sent) return sent;
  auto released = console_line_with("vmemcheck-guest: released", "waiting for the guest's held pattern", &held);
  if (!released) return released.error();
  if (!held.pattern_seen) return Error{"the guest released its pattern without reporting it"};
  session_.held.push_back(held);
  return checkpoint();
}

Result<GuestSession> Session::finish() {
  (void)qmp_->execute("quit");
  std::vector<VirtioMemTraceEvent> all;
  for (const Trace& t : traces_) {
    auto events = parse_virtio_mem_trace(without_lines(read_file(t.path), t.skipped));
    if (!events) return events.error();
    all.insert(all.end(), events->begin(), events->end());
  }
  GuestRecording& r = session_.recording;
  r.events = std::move(all);
  const GuestGeometry& g = o_.geometry;
  // q35 with less than 2 GiB of boot RAM puts the memory-device area at 4 GiB; QEMU decides memslots for maxmem - RAM.
  r.machine.device_memory_base = 4 * GiB;
  r.machine.device_memory_size = g.maxmem - g.boot_ram;
  for (size_t i = 0; i < g.devices.size(); ++i) {
    DeviceConfig c;
    c.id = g.devices[i].id;
    c.memdev = g.devices[i].memdev;
    c.region_size = g.devices[i].region_size;
    c.block_size = g.block_size;
    c.requested_size = g.devices[i].initial_size;
    c.addr = addrs_[i];
    c.mode = MemslotMode::Dynamic;
    c.unplugged_inaccessible = true;
    r.devices.push_back(std::move(c));
  }
  return std::move(session_);
}

}  // namespace

std::vector<PlannedResize> resize_plan(size_t start, size_t count, const GuestGeometry& geometry) {
  // Linux plugs whole 128 MiB memory blocks where it can; 130M and 1282M need subblocks.
  static constexpr uint64_t kPlan[] = {1024, 512, 0, 2048, 4096, 1536, 130, 3072, 0, 768, 2560,
                                       1024, 4096, 256, 0, 2048, 3584, 1282, 512, 0, 384};
  std::vector<PlannedResize> plan;
  for (size_t i = start; i < start + count; ++i) {
    const size_t device = (i - start) % geometry.devices.size();
    plan.push_back({device, std::min(kPlan[i % std::size(kPlan)] * MiB, geometry.devices[device].region_size)});
  }
  return plan;
}

Result<GuestSession> run_guest_session(const GuestSessionOptions& options) {
  const auto started = Clock::now();
  auto probed = probe_qemu(options.binary);
  if (!probed) return probed.error();
  auto process = QemuProcess::launch(launch_options(options, true, options.trace_path));
  if (!process) return process.error();
  Session session(options, std::move(*process), probed->version);
  if (auto booted = session.boot(started); !booted) return booted.error();
  if (auto first = session.checkpoint(); !first) return first.error();
  for (size_t i = 0; i < options.resizes.size(); ++i) {
    if (auto resized = session.resize(options.resizes[i]); !resized) return resized.error();
    if (auto converged = session.checkpoint(); !converged) return converged.error();
    if (i < options.migrations) {
      if (auto migrated = session.migrate(); !migrated) return migrated.error();
    }
  }
  return session.finish();
}

}  // namespace vmemcheck::qemu
