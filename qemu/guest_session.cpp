#include "guest_session.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "mtree_parser.hpp"
#include "qemu_process.hpp"
#include "qmp_client.hpp"

namespace vmemcheck::qemu {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::vector<std::string> qemu_arguments(const GuestSessionOptions& o) {
  const GuestGeometry& g = o.geometry;
  return {"-machine", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1",
          "-m", fmt::format("{}M,maxmem={}M,slots=1", g.boot_ram / MiB, g.maxmem / MiB),
          "-object", fmt::format("memory-backend-ram,id=mem0,size={}M,reserve=off", g.region_size / MiB),
          "-device", fmt::format("virtio-mem-pci,id=vmem0,memdev=mem0,block-size={}M,requested-size={}M,dynamic-memslots=on",
                                 g.block_size / MiB, g.initial_size / MiB),
          "-kernel", o.kernel, "-initrd", o.initrd,
          // The kernel onlines what the driver plugs, movable: with memhp_default_state=online
          // its own unmovable allocations landed in device memory and a resize to 0 stopped
          // at 4 MiB for 240 s. quiet keeps the console for the guest's answers.
          "-append", "console=ttyS0 quiet panic=-1 memhp_default_state=online_movable",
          "-display", "none", "-monitor", "none", "-nic", "none", "-no-reboot",
          "-trace", fmt::format("virtio_mem_*,file={}", o.trace_path)};
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One guest run, step by step.
class Session {
 public:
  Session(const GuestSessionOptions& options, QemuProcess& process, std::string version)
      : o_(options), process_(process), qmp_(process) {
    session_.qemu_version = std::move(version);
  }

  Status boot(Clock::time_point started);
  Status resize(uint64_t size);
  // Waits for the guest to converge on `requested`, then records a checkpoint and the guest's memory check.
  Status checkpoint(uint64_t requested);
  Result<GuestSession> finish();

 private:
  Result<uint64_t> qom_size(const std::string& property);
  size_t trace_events() const;
  Result<std::vector<MtreeRegion>> device_tree();
  Status guest_check(GuestMemoryReport& report);

  const GuestSessionOptions& o_;
  QemuProcess& process_;
  QmpClient qmp_;
  GuestSession session_;
  uint64_t addr_ = 0;
};

Result<uint64_t> Session::qom_size(const std::string& property) {
  auto reply = qmp_.execute("qom-get", {{"path", "/machine/peripheral/vmem0"}, {"property", property}});
  if (!reply) return reply.error();
  if (!reply->ok() || !reply->value->is_number_unsigned()) {
    return Error{fmt::format("qom-get {}: {}", property, reply->ok() ? reply->value->dump() : reply->error)};
  }
  return reply->value->get<uint64_t>();
}

size_t Session::trace_events() const {
  const std::string text = read_file(o_.trace_path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

Status Session::boot(Clock::time_point started) {
  if (auto shaken = qmp_.handshake(); !shaken) return shaken;
  const auto deadline = started + std::chrono::seconds(o_.boot_seconds);
  for (;;) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) return Error{fmt::format("the guest was not ready within {} s", o_.boot_seconds)};
    auto line = process_.read_console_line("waiting for the guest's ready line", left);
    if (!line) return line.error();
    if (line->find("vmemcheck-guest: insmod") != std::string::npos) return Error{"the guest: " + *line};
    if (const auto at = line->find("vmemcheck-guest: ready ("); at != std::string::npos) {
      const auto release = at + std::string_view("vmemcheck-guest: ready (").size();
      session_.kernel_release = line->substr(release, line->find(')', release) - release);
      break;
    }
  }
  session_.boot_seconds = seconds_since(started);
  auto addr = qom_size("memaddr");
  if (!addr) return addr.error();
  addr_ = *addr;
  return ok_status();
}

Status Session::resize(uint64_t size) {
  session_.recording.marks.push_back({trace_events(), RecordedResize{size}});
  auto reply = qmp_.execute("qom-set", {{"path", "/machine/peripheral/vmem0"}, {"property", "requested-size"}, {"value", size}});
  if (!reply) return reply.error();
  if (!reply->ok()) return Error{fmt::format("qom-set requested-size {}: {}", size, reply->error)};
  return ok_status();
}

Result<std::vector<MtreeRegion>> Session::device_tree() {
  auto reply = qmp_.execute("human-monitor-command", {{"command-line", "info mtree"}});
  if (!reply) return reply.error();
  if (!reply->ok() || !reply->value->is_string()) return Error{"info mtree: " + reply->error};
  auto tree = device_memory_tree(reply->value->get<std::string>());
  if (!tree) return tree.error();
  return device_subtree(*tree, addr_);
}

Status Session::checkpoint(uint64_t requested) {
  const auto started = Clock::now();
  auto plugged = qom_size("size");
  for (; plugged && *plugged != requested; plugged = qom_size("size")) {
    if (seconds_since(started) > o_.converge_seconds) {
      return Error{fmt::format("the guest did not converge on {} within {} s: QEMU's size is {}", format_size(requested),
                               o_.converge_seconds, format_size(*plugged))};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!plugged) return plugged.error();
  session_.converge_seconds.push_back(seconds_since(started));
  auto tree = device_tree();
  if (!tree) return tree.error();
  const size_t events = trace_events();
  session_.recording.marks.push_back({events, RecordedCheckpoint{*plugged, requested, std::move(*tree)}});
  GuestMemoryReport report;
  report.events_before = events;
  report.plugged = *plugged;
  if (auto checked = guest_check(report); !checked) return checked;
  session_.reports.push_back(std::move(report));
  return ok_status();
}

Status Session::guest_check(GuestMemoryReport& report) {
  if (auto sent = process_.send_console("check"); !sent) return sent;
  for (;;) {
    auto line = process_.read_console_line("waiting for the guest's memory check", o_.converge_seconds * 1000);
    if (!line) return line.error();
    if (line->find("vmemcheck-guest: checked") != std::string::npos) return ok_status();
    if (auto read = read_report_line(*line, report); !read) return read;
  }
}

Result<GuestSession> Session::finish() {
  (void)qmp_.execute("quit");
  auto events = parse_virtio_mem_trace(read_file(o_.trace_path));
  if (!events) return events.error();
  GuestRecording& r = session_.recording;
  r.events = std::move(*events);
  const GuestGeometry& g = o_.geometry;
  // q35 with less than 2 GiB of boot RAM puts the memory-device area at 4 GiB; QEMU decides memslots for maxmem - RAM.
  r.machine.device_memory_base = 4 * GiB;
  r.machine.device_memory_size = g.maxmem - g.boot_ram;
  r.device.id = "vmem0";
  r.device.memdev = "mem0";
  r.device.region_size = g.region_size;
  r.device.block_size = g.block_size;
  r.device.requested_size = g.initial_size;
  r.device.addr = addr_;
  r.device.mode = MemslotMode::Dynamic;
  r.device.unplugged_inaccessible = true;
  return std::move(session_);
}

}  // namespace

std::vector<uint64_t> resize_plan(size_t start, size_t count, const GuestGeometry& geometry) {
  // Linux plugs whole 128 MiB memory blocks where it can; 130M and 1282M need subblocks.
  static constexpr uint64_t kPlan[] = {1024, 512, 0, 2048, 4096, 1536, 130, 3072, 0, 768, 2560,
                                       1024, 4096, 256, 0, 2048, 3584, 1282, 512, 0, 384};
  std::vector<uint64_t> sizes;
  for (size_t i = start; i < start + count; ++i) {
    sizes.push_back(std::min(kPlan[i % std::size(kPlan)] * MiB, geometry.region_size));
  }
  return sizes;
}

Result<GuestSession> run_guest_session(const GuestSessionOptions& options) {
  LaunchOptions launch;
  launch.binary = options.binary;
  launch.args = qemu_arguments(options);
  launch.qtest = false;
  launch.console = true;
  const auto started = Clock::now();
  auto version = probe_version(options.binary);
  if (!version) return version.error();
  auto process = QemuProcess::launch(launch);
  if (!process) return process.error();
  Session session(options, **process, *version);
  if (auto booted = session.boot(started); !booted) return booted.error();
  if (auto first = session.checkpoint(options.geometry.initial_size); !first) return first.error();
  for (const uint64_t size : options.sizes) {
    if (auto resized = session.resize(size); !resized) return resized.error();
    if (auto converged = session.checkpoint(size); !converged) return converged.error();
  }
  return session.finish();
}

}  // namespace vmemcheck::qemu
