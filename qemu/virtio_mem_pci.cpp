#include "virtio_mem_pci.hpp"

#include <cstdlib>

#include <unistd.h>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

// Boot RAM and where the driver keeps its queue and buffers in it.
constexpr uint64_t kBootRam = 128 * MiB;
constexpr uint64_t kQueueDesc = 0x100000;
constexpr uint64_t kQueueAvail = 0x101000;
constexpr uint64_t kQueueUsed = 0x102000;
constexpr uint64_t kRequestBuffer = 0x110000;
constexpr uint64_t kResponseBuffer = 0x120000;
// The virtio BAR: inside q35's 32-bit PCI hole.
constexpr uint64_t kBarBase = 0xe0000000;
constexpr uint64_t kDeviceMemoryBase = kQemuDeviceMemoryBase;

constexpr uint16_t kVendorVirtio = 0x1af4;
constexpr uint16_t kDeviceVirtioMem = 0x1058;
constexpr uint64_t kFeatureVersion1 = uint64_t{1} << 32;

// Common configuration offsets (virtio 1.x, 4.1.4.3).
enum Common : uint64_t {
  DeviceFeatureSelect = 0, DeviceFeature = 4, DriverFeatureSelect = 8, DriverFeature = 12,
  DeviceStatus = 20, QueueSelect = 22, QueueSize = 24, QueueEnable = 28, QueueNotifyOff = 30,
  QueueDesc = 32, QueueDriver = 40, QueueDevice = 48,
};
enum StatusBits : uint8_t { Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8 };

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

Result<uint64_t> parse_hex(const Result<std::string>& answer) {
  if (!answer) return answer.error();
  char* end = nullptr;
  const uint64_t value = std::strtoull(answer->c_str(), &end, 16);
  if (answer->empty() || *end != '\0') return Error{fmt::format("qtest answered '{}', expected a number", *answer)};
  return value;
}

}  // namespace

uint64_t max_area_end(bool large_addresses) {
  // qemu64: 40 bits, of which QEMU keeps the upper half for the PCI hole and
  // its alignment; 46 bits: the same share.
  return uint64_t{1} << (large_addresses ? 45 : 39);
}

std::optional<std::string> inexpressible(const DeviceConfig& config, uint32_t numa_nodes, uint64_t area_end,
                                         bool large_addresses) {
  if (config.arch != Arch::X86_64) return fmt::format("arch={} (qemu-system-x86_64 only)", name(config.arch));
  if (config.page_size != 4 * KiB) return std::string("a backend page size other than 4K");
  if (numa_nodes > 8) return std::string("more than 8 NUMA nodes");
  if (config.addr && *config.addr < kDeviceMemoryBase) return std::string("a device below 4 GiB");
  const uint64_t limit = max_area_end(large_addresses);
  const uint64_t end = std::max(area_end, config.addr.value_or(kDeviceMemoryBase) + config.region_size);
  if (config.region_size > limit || end > limit) {
    return fmt::format("a device-memory area ending beyond {}", format_size(limit));
  }
  return std::nullopt;
}

std::vector<std::string> qemu_arguments(const QemuGeometry& g) {
  const uint64_t end = g.addr.value_or(kDeviceMemoryBase) + g.region_size;
  const bool numa = g.numa_nodes > 1 || g.node != 0;
  const uint64_t ram = numa ? 64 * MiB * g.numa_nodes : kBootRam;
  const uint64_t device_area = align_up(std::max(end, kDeviceMemoryBase + g.block_size) - kDeviceMemoryBase, GiB);
  const uint64_t maxmem = ram + (g.device_memory_size ? g.device_memory_size : device_area);
  std::vector<std::string> args{"-display", "none", "-nodefaults", "-machine", "q35", "-accel", "tcg",
                                "-m", fmt::format("{}M,maxmem={}M,slots=1", ram / MiB, maxmem / MiB)};
  if (g.large_addresses) args.insert(args.end(), {"-cpu", "max,phys-bits=46,vendor=GenuineIntel"});
  if (numa) {
    for (uint32_t n = 0; n < g.numa_nodes; ++n) {
      args.insert(args.end(), {"-object", fmt::format("memory-backend-ram,id=ram-node{},size=64M", n),
                               "-numa", fmt::format("node,nodeid={},memdev=ram-node{}", n, n)});
    }
  }
  args.insert(args.end(), {"-object", fmt::format("memory-backend-ram,id={},size={},reserve=off", g.memdev, g.region_size)});
  std::string device = fmt::format("virtio-mem-pci,id={},memdev={},block-size={},requested-size={},"
                                   "unplugged-inaccessible={}", g.id, g.memdev, g.block_size, g.requested_size,
                                   g.unplugged_inaccessible ? "on" : "off");
  if (g.dynamic_memslots) device += fmt::format(",dynamic-memslots={}", *g.dynamic_memslots ? "on" : "off");
  if (g.synchronous_notify) device += ",ioeventfd=off";
  if (g.node != 0 || numa) device += fmt::format(",node={}", g.node);
  if (g.addr) device += fmt::format(",memaddr={}", *g.addr);
  args.insert(args.end(), {"-device", device});
  return args;
}

Result<std::unique_ptr<VirtioMemPci>> VirtioMemPci::start(const std::string& binary, const QemuGeometry& geometry) {
  auto process = QemuProcess::launch({binary, qemu_arguments(geometry), 20000});
  if (!process) return process.error();
  std::unique_ptr<VirtioMemPci> d(new VirtioMemPci());
  d->process_ = std::move(*process);
  d->id_ = geometry.id;
  if (auto found = d->enumerate(); !found) return found.error();
  if (auto ready = d->initialise(); !ready) return ready.error();
  return d;
}

namespace {

// qtest command texts, for batches.
std::string mmio_read_command(uint64_t addr, int size) {
  return fmt::format("{} {:#x}", size == 1 ? "readb" : size == 2 ? "readw" : size == 4 ? "readl" : "readq", addr);
}
std::string mmio_write_command(uint64_t addr, int size, uint64_t value) {
  return fmt::format("{} {:#x} {:#x}", size == 1 ? "writeb" : size == 2 ? "writew" : size == 4 ? "writel" : "writeq",
                     addr, value);
}
std::string mem_write_command(uint64_t addr, const uint8_t* bytes, size_t size) {
  std::string hex;
  hex.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) hex += fmt::format("{:02x}", bytes[i]);
  return fmt::format("write {:#x} {} 0x{}", addr, size, hex);
}

// The bytes of a qtest `read` answer ("0x" and two hex digits a byte).
Result<std::vector<uint8_t>> read_bytes(const std::string& answer, size_t size) {
  if (answer.rfind("0x", 0) != 0 || answer.size() != 2 + 2 * size)
    return Error{fmt::format("qtest read answered '{}'", answer)};
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(std::strtoul(answer.substr(2 + 2 * i, 2).c_str(), nullptr, 16));
  return bytes;
}

}  // namespace

Result<uint32_t> VirtioMemPci::pci_read(uint8_t offset) {
  auto answers = process_->qtest_batch({fmt::format("outl 0xcf8 {:#x}", devfn_address_ | (offset & 0xfcu)), "inl 0xcfc"});
  if (!answers) return answers.error();
  auto value = parse_hex((*answers)[1]);
  if (!value) return value.error();
  return static_cast<uint32_t>(*value >> (8 * (offset & 3)));
}

std::vector<std::string> VirtioMemPci::pci_write_commands(uint8_t offset, uint32_t value) const {
  return {fmt::format("outl 0xcf8 {:#x}", devfn_address_ | offset), fmt::format("outl 0xcfc {:#x}", value)};
}

// PCI bus 0: find virtio-mem and read the modern virtio capabilities (once:
// they do not change), then place its virtio BAR and enable memory space and
// bus mastering (after every system reset, which clears them).
Status VirtioMemPci::enumerate() {
  if (devfn_address_ == 0) {
    if (auto found = find_capabilities(); !found) return found;
  }
  std::vector<std::string> commands = pci_write_commands(bar_offset_, static_cast<uint32_t>(kBarBase));
  if (bar_is_64bit_) {
    auto upper = pci_write_commands(static_cast<uint8_t>(bar_offset_ + 4), 0);
    commands.insert(commands.end(), upper.begin(), upper.end());
  }
  // Command register: memory space and bus mastering.
  auto enable = pci_write_commands(0x04, command_register_ | 0x6);
  commands.insert(commands.end(), enable.begin(), enable.end());
  if (auto done = process_->qtest_batch(commands); !done) return done.error();
  return ok_status();
}

Status VirtioMemPci::find_capabilities() {
  std::vector<std::string> scan;
  for (uint32_t slot = 0; slot < 32; ++slot) {
    scan.push_back(fmt::format("outl 0xcf8 {:#x}", 0x80000000u | (slot << 11)));
    scan.push_back("inl 0xcfc");
  }
  auto ids = process_->qtest_batch(scan);
  if (!ids) return ids.error();
  for (uint32_t slot = 0; slot < 32 && devfn_address_ == 0; ++slot) {
    auto id = parse_hex((*ids)[2 * slot + 1]);
    if (!id) return id.error();
    if ((*id & 0xffff) == kVendorVirtio && (*id >> 16) == kDeviceVirtioMem) devfn_address_ = 0x80000000u | (slot << 11);
  }
  if (devfn_address_ == 0) {
    return Error{fmt::format("no virtio-mem-pci device (vendor {:#x}, device {:#x}) on PCI bus 0", kVendorVirtio,
                             kDeviceVirtioMem)};
  }
  auto status = pci_read(0x06);
  if (!status) return status.error();
  if (!(*status & 0x10)) return Error{"virtio-mem-pci has no PCI capability list"};
  auto pointer = pci_read(0x34);
  if (!pointer) return pointer.error();
  struct Cap {
    uint8_t bar;
    uint32_t offset;
  };
  std::optional<Cap> common, notify, isr, device;
  uint8_t at = static_cast<uint8_t>(*pointer & 0xfc);
  for (int guard = 0; at != 0 && guard < 48; ++guard) {
    auto head = pci_read(at);
    if (!head) return head.error();
    const uint8_t vendor = *head & 0xff, next = static_cast<uint8_t>((*head >> 8) & 0xfc);
    if (vendor == 0x09) {
      const uint8_t cfg_type = static_cast<uint8_t>(*head >> 24);
      auto bar_word = pci_read(static_cast<uint8_t>(at + 4));
      auto offset = pci_read(static_cast<uint8_t>(at + 8));
      if (!bar_word || !offset) return Error{"reading a virtio capability failed"};
      const Cap cap{static_cast<uint8_t>(*bar_word & 0xff), *offset};
      if (cfg_type == 1) common = cap;
      if (cfg_type == 2) {
        notify = cap;
        auto multiplier = pci_read(static_cast<uint8_t>(at + 16));
        if (!multiplier) return multiplier.error();
        notify_multiplier_ = *multiplier;
      }
      if (cfg_type == 3) isr = cap;
      if (cfg_type == 4) device = cap;
    }
    at = next;
  }
  if (!common || !notify || !isr || !device) return Error{"virtio-mem-pci lacks a modern virtio capability"};
  if (common->bar != notify->bar || common->bar != device->bar || common->bar > 5)
    return Error{"virtio capabilities in several BARs are not supported by this driver"};
  bar_offset_ = static_cast<uint8_t>(0x10 + 4 * common->bar);
  auto original = pci_read(bar_offset_);
  if (!original) return original.error();
  if (*original & 1) return Error{"the virtio BAR is an I/O BAR"};
  bar_is_64bit_ = (*original & 0x6) == 0x4;
  auto command = pci_read(0x04);
  if (!command) return command.error();
  command_register_ = *command & 0xffff;
  common_ = kBarBase + common->offset;
  notify_ = kBarBase + notify->offset;
  isr_ = kBarBase + isr->offset;
  device_ = kBarBase + device->offset;
  return ok_status();
}

Result<bool> VirtioMemPci::negotiate(std::optional<uint64_t> accept) {
  const auto status_write = [&](uint8_t value) { return mmio_write_command(common_ + DeviceStatus, 1, value); };
  auto offered = process_->qtest_batch({status_write(0), status_write(Acknowledge), status_write(Acknowledge | Driver),
                                        mmio_write_command(common_ + DeviceFeatureSelect, 4, 0),
                                        mmio_read_command(common_ + DeviceFeature, 4),
                                        mmio_write_command(common_ + DeviceFeatureSelect, 4, 1),
                                        mmio_read_command(common_ + DeviceFeature, 4)});
  if (!offered) return offered.error();
  auto low = parse_hex((*offered)[4]), high = parse_hex((*offered)[6]);
  if (!low) return low.error();
  if (!high) return high.error();
  offered_ = *low | *high << 32;
  if (!(offered_ & kFeatureVersion1)) return Error{fmt::format("device offers {:#x}, without VERSION_1", offered_)};
  accepted_ = kFeatureVersion1 | accept.value_or(offered_ & (kFeatureAcpiPxm | kFeatureUnpluggedInaccessible));
  auto accepted = process_->qtest_batch({mmio_write_command(common_ + DriverFeatureSelect, 4, 0),
                                         mmio_write_command(common_ + DriverFeature, 4, accepted_ & 0xffffffff),
                                         mmio_write_command(common_ + DriverFeatureSelect, 4, 1),
                                         mmio_write_command(common_ + DriverFeature, 4, accepted_ >> 32),
                                         status_write(Acknowledge | Driver | FeaturesOk),
                                         mmio_read_command(common_ + DeviceStatus, 1)});
  if (!accepted) return accepted.error();
  auto st = parse_hex(accepted->back());
  if (!st) return st.error();
  return (*st & FeaturesOk) != 0;
}

Result<bool> VirtioMemPci::try_features(uint64_t device_features) {
  auto kept = negotiate(device_features);
  if (!kept) return kept.error();
  if (auto ready = initialise(); !ready) return ready.error();
  return *kept;
}

Status VirtioMemPci::initialise() {
  auto kept = negotiate(std::nullopt);
  if (!kept) return kept.error();
  if (!*kept) return Error{fmt::format("virtio-mem refused the features {:#x} (offered {:#x})", accepted_, offered_)};
  auto queue = process_->qtest_batch({mmio_write_command(common_ + QueueSelect, 2, 0),
                                      mmio_read_command(common_ + QueueSize, 2),
                                      mmio_read_command(common_ + QueueNotifyOff, 2)});
  if (!queue) return queue.error();
  auto size = parse_hex((*queue)[1]), notify_off = parse_hex((*queue)[2]);
  if (!size) return size.error();
  if (!notify_off) return notify_off.error();
  if (*size == 0 || *size > 1024) return Error{fmt::format("queue 0 has size {}", *size)};
  queue_size_ = static_cast<uint16_t>(*size);
  notify_addr_ = notify_ + *notify_off * notify_multiplier_;
  avail_idx_ = used_idx_ = 0;
  // Clear the rings, hand their addresses over, enable the queue; no
  // interrupts: the driver polls the used ring after each notify.
  std::vector<std::string> commands;
  for (uint64_t ring : {kQueueDesc, kQueueAvail, kQueueUsed}) commands.push_back(fmt::format("memset {:#x} 4096 0", ring));
  for (auto [offset, addr] : {std::pair{QueueDesc, kQueueDesc}, {QueueDriver, kQueueAvail}, {QueueDevice, kQueueUsed}}) {
    commands.push_back(mmio_write_command(common_ + offset, 4, addr & 0xffffffff));
    commands.push_back(mmio_write_command(common_ + offset + 4, 4, addr >> 32));
  }
  commands.push_back(mmio_write_command(common_ + QueueEnable, 2, 1));
  const uint8_t no_interrupt[2] = {1, 0};
  commands.push_back(mem_write_command(kQueueAvail, no_interrupt, 2));
  commands.push_back(mmio_write_command(common_ + DeviceStatus, 1, Acknowledge | Driver | FeaturesOk | DriverOk));
  if (auto done = process_->qtest_batch(commands); !done) return done.error();
  return ok_status();
}

Result<ConfigSpace> VirtioMemPci::config() {
  auto state = read_state(false);
  if (!state) return state.error();
  return state->config;
}

Result<DeviceState> VirtioMemPci::read_state(bool with_tree) {
  const std::string mtree = R"({"execute":"human-monitor-command","arguments":{"command-line":"info mtree"}})";
  // QEMU renders the tree while it answers the qtest reads.
  if (with_tree) {
    if (auto sent = process_->qmp_send(mtree); !sent) return sent.error();
  }
  std::vector<std::string> commands;
  for (size_t offset = 0; offset < kConfigSize; offset += 4) commands.push_back(mmio_read_command(device_ + offset, 4));
  commands.push_back(mmio_read_command(common_ + DeviceStatus, 1));
  auto answers = process_->qtest_batch(commands);
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
    auto tree = device_memory_tree_from(process_->qmp_answer(mtree));
    if (!tree) return tree.error();
    state.tree = std::move(*tree);
  }
  return state;
}

Result<Answer> VirtioMemPci::request(const Chain& chain) {
  if (chain.readable > kMaxPart || chain.writable > kMaxPart)
    return Error{fmt::format("chain parts longer than {} bytes", kMaxPart)};
  std::vector<std::string> commands;
  // The request bytes, truncated to the readable part; the rest of a longer part reads as zeros.
  uint8_t req[kRequestSize] = {};
  store_le(req, 0, 2, chain.type);
  store_le(req, 8, 8, chain.addr);
  store_le(req, 16, 2, chain.nb_blocks);
  if (chain.readable > kRequestSize) commands.push_back(fmt::format("memset {:#x} {} 0", kRequestBuffer, chain.readable));
  if (const uint64_t written = std::min<uint64_t>(chain.readable, kRequestSize); written > 0) {
    commands.push_back(mem_write_command(kRequestBuffer, req, written));
  }
  // The response buffer starts as 0xff, so a device that writes nothing is seen.
  commands.push_back(fmt::format("memset {:#x} {} 0xff", kResponseBuffer, kResponseSize));
  // Descriptors: [0] readable part -> [1] writable part; a part of 0 bytes is left out
  // (both 0: one empty readable descriptor, itself a protocol violation).
  uint8_t desc[32] = {};
  uint16_t head = 0;
  const bool has_readable = chain.readable > 0 || chain.writable == 0;
  const bool has_writable = chain.writable > 0;
  if (has_readable) {
    store_le(desc, 0, 8, kRequestBuffer);
    store_le(desc, 8, 4, chain.readable);
    store_le(desc, 12, 2, has_writable ? 1 : 0);  // NEXT
    store_le(desc, 14, 2, 1);
  } else {
    head = 1;
  }
  if (has_writable) {
    store_le(desc, 16, 8, kResponseBuffer);
    store_le(desc, 24, 4, chain.writable);
    store_le(desc, 28, 2, 2);  // WRITE
  }
  commands.push_back(mem_write_command(kQueueDesc, desc, sizeof desc));
  uint8_t slot[2];
  store_le(slot, 0, 2, head);
  commands.push_back(mem_write_command(kQueueAvail + 4 + 2 * (avail_idx_ % queue_size_), slot, 2));
  ++avail_idx_;
  uint8_t idx[2];
  store_le(idx, 0, 2, avail_idx_);
  commands.push_back(mem_write_command(kQueueAvail + 2, idx, 2));
  commands.push_back(mmio_write_command(notify_addr_, 2, 0));
  // The device serviced the queue synchronously on the notify write: the used
  // index, the element it would have written and the response, read at once.
  const size_t reads = commands.size();
  commands.push_back(fmt::format("read {:#x} 2", kQueueUsed + 2));
  commands.push_back(fmt::format("read {:#x} 8", kQueueUsed + 4 + 8 * (used_idx_ % queue_size_)));
  commands.push_back(fmt::format("read {:#x} {}", kResponseBuffer, kResponseSize));
  auto answers = process_->qtest_batch(commands);
  if (!answers) return answers.error();
  auto used = read_bytes((*answers)[reads], 2);
  if (!used) return used.error();
  const uint16_t used_idx = static_cast<uint16_t>(load_le(*used, 0, 2));
  Answer answer;
  if (used_idx == used_idx_) return answer;
  if (static_cast<uint16_t>(used_idx - used_idx_) != 1)
    return Error{fmt::format("the used index moved from {} to {} for one chain", used_idx_, used_idx)};
  used_idx_ = used_idx;
  auto element = read_bytes((*answers)[reads + 1], 8);
  if (!element) return element.error();
  answer.used_len = static_cast<uint32_t>(load_le(*element, 4, 4));
  if (load_le(*element, 0, 4) != head)
    return Error{fmt::format("used element id {} for head {}", load_le(*element, 0, 4), head)};
  auto bytes = read_bytes((*answers)[reads + 2], kResponseSize);
  if (!bytes) return bytes.error();
  const uint16_t type = static_cast<uint16_t>(load_le(*bytes, 0, 2));
  const uint16_t state = static_cast<uint16_t>(load_le(*bytes, 8, 2));
  if (type > 3) return Error{fmt::format("response type {} (bytes {})", type, (*answers)[reads + 2])};
  Response r;
  r.type = static_cast<ResponseType>(type);
  r.state = state <= 2 ? static_cast<BlockState>(state) : BlockState::Plugged;
  if (r.type == ResponseType::Ack && chain.type == 3 && state > 2)
    return Error{fmt::format("STATE answered state {}", state)};
  answer.response = r;
  return answer;
}

Result<std::optional<std::string>> VirtioMemPci::resize(uint64_t requested) {
  auto answer = process_->qmp(fmt::format(
      R"({{"execute":"qom-set","arguments":{{"path":"/machine/peripheral/{}","property":"requested-size","value":{}}}}})",
      id_, requested));
  if (!answer) return answer.error();
  if (answer->find("\"return\"") != std::string::npos) return std::optional<std::string>();
  const auto desc = answer->find("\"desc\": \"");
  if (desc == std::string::npos) return std::optional<std::string>(*answer);
  const auto start = desc + 9;
  return std::optional<std::string>(answer->substr(start, answer->find('"', start) - start));
}

Status VirtioMemPci::system_reset() {
  auto answer = process_->qmp(R"({"execute":"system_reset"})");
  if (!answer) return answer.error();
  if (answer->find("\"return\"") == std::string::npos) return Error{"system_reset: " + *answer};
  if (auto reset = process_->wait_event("RESET"); !reset) return reset;
  if (auto found = enumerate(); !found) return found;
  return initialise();
}

Status VirtioMemPci::virtio_reset() { return initialise(); }

namespace {

// Polls query-migrate until the migration completed (ok) or failed (its error).
Status wait_for_migration(QemuProcess& process, const char* side, int deadline_ms) {
  for (int waited_ms = 0; waited_ms < deadline_ms; waited_ms += 5) {
    auto answer = process.qmp(R"({"execute":"query-migrate"})");
    if (!answer) return answer.error();
    if (answer->find("\"status\": \"completed\"") != std::string::npos) return ok_status();
    if (answer->find("\"status\": \"failed\"") != std::string::npos) {
      return Error{fmt::format("migration failed at the {}: {}", side, *answer)};
    }
    ::usleep(5000);
  }
  return Error{fmt::format("migration not completed at the {} within {} s", side, deadline_ms / 1000)};
}

}  // namespace

Status VirtioMemPci::migrate(const std::string& binary, const QemuGeometry& destination, uint64_t plugged) {
  std::vector<std::string> args = qemu_arguments(destination);
  args.insert(args.end(), {"-incoming", "defer"});
  auto incoming = QemuProcess::launch({binary, args, 20000});
  if (!incoming) return incoming.error();
  const std::string uri = "unix:" + (*incoming)->directory() + "/migration.sock";
  for (auto [process, command] : {std::pair{incoming->get(), "migrate-incoming"}, {process_.get(), "migrate"}}) {
    auto answer = process->qmp(fmt::format(R"({{"execute":"{}","arguments":{{"uri":"{}"}}}})", command, uri));
    if (!answer) return answer.error();
    if (answer->find("\"return\"") == std::string::npos) return Error{fmt::format("{}: {}", command, *answer)};
  }
  // QEMU reads every plugged page to send it (or find it zero): seen at
  // about 5 s per GiB on a loaded 2-core machine.
  const int deadline_ms = static_cast<int>(20000 + 10000 * (plugged / GiB));
  if (auto done = wait_for_migration(*process_, "source", deadline_ms); !done) return done;
  if (auto done = wait_for_migration(**incoming, "destination", deadline_ms); !done) return done;
  process_ = std::move(*incoming);
  decided_.reset();
  return ok_status();
}

namespace {

// The string value of "return" in a QMP answer, JSON escapes decoded (QEMU
// escapes only ASCII control characters, quotes and backslashes).
Result<std::string> return_string(const std::string& answer) {
  const std::string key = "\"return\": \"";
  const auto at = answer.find(key);
  if (at == std::string::npos) return Error{"QMP answered " + answer};
  std::string text;
  for (size_t i = at + key.size(); i < answer.size(); ++i) {
    const char c = answer[i];
    if (c == '"') return text;
    if (c != '\\' || i + 1 == answer.size()) {
      text += c;
      continue;
    }
    const char escaped = answer[++i];
    if (escaped == 'n') text += '\n';
    else if (escaped == 'r') text += '\r';
    else if (escaped == 't') text += '\t';
    else if (escaped == 'u' && i + 4 < answer.size()) {
      text += static_cast<char>(std::strtoul(answer.substr(i + 1, 4).c_str(), nullptr, 16));
      i += 4;
    } else text += escaped;
  }
  return Error{"QMP answer ends inside a string: " + answer};
}

size_t indent_of(const std::string& line) { return line.find_first_not_of(' '); }

}  // namespace

Result<std::vector<std::string>> VirtioMemPci::device_memory_tree_from(const Result<std::string>& answer) {
  if (!answer) return answer.error();
  auto text = return_string(*answer);
  if (!text) return text.error();
  std::vector<std::string> tree;
  bool in_memory = false;
  size_t container_indent = std::string::npos;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) end = text->size();
    std::string line = text->substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.rfind("address-space: ", 0) == 0) {
      if (in_memory) break;
      in_memory = line == "address-space: memory";
      continue;
    }
    if (!in_memory || line.empty()) continue;
    const size_t indent = indent_of(line);
    if (container_indent == std::string::npos) {
      if (line.size() > 16 && line.compare(line.size() - 16, 16, "): device-memory") == 0) {
        container_indent = indent;
        tree.push_back(line.substr(indent));
      }
    } else if (indent > container_indent) {
      tree.push_back(line.substr(container_indent));
    } else {
      break;
    }
  }
  if (tree.empty()) return Error{"info mtree shows no device-memory container in address space \"memory\""};
  return tree;
}

Result<std::vector<uint64_t>> VirtioMemPci::decided_memslots() {
  if (decided_) return *decided_;
  const std::string backend = fmt::format("/machine/peripheral/{}/virtio-backend", id_);
  auto listing = process_->qmp(
      fmt::format(R"({{"execute":"qom-list","arguments":{{"path":"{}"}}}})", backend));
  if (!listing) return listing.error();
  if (listing->find("\"return\"") == std::string::npos) return Error{"qom-list " + backend + ": " + *listing};
  uint64_t count = 0;
  for (size_t at = listing->find("\"name\": \"memslot-"); at != std::string::npos;
       at = listing->find("\"name\": \"memslot-", at + 1)) {
    ++count;
  }
  std::vector<uint64_t> sizes;
  for (uint64_t index = 0; index < count; ++index) {
    auto size = process_->qmp(fmt::format(
        R"({{"execute":"qom-get","arguments":{{"path":"{}/memslot-{}[0]","property":"size"}}}})", backend, index));
    if (!size) return size.error();
    const auto at = size->find("\"return\": ");
    if (at == std::string::npos) return Error{fmt::format("memslot-{}[0] of {}: {}", index, backend, *size)};
    sizes.push_back(std::strtoull(size->c_str() + at + 10, nullptr, 10));
  }
  decided_ = sizes;
  return sizes;
}

}  // namespace vmemcheck::qemu
