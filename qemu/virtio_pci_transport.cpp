#include "virtio_pci_transport.hpp"

#include <fmt/format.h>

#include "qtest_commands.hpp"

namespace vmemcheck::qemu {
namespace {

constexpr uint64_t kFeatureVersion1 = uint64_t{1} << 32;

// Common configuration offsets (virtio 1.x, 4.1.4.3).
enum Common : uint64_t {
  DeviceFeatureSelect = 0, DeviceFeature = 4, DriverFeatureSelect = 8, DriverFeature = 12,
  DeviceStatus = 20, QueueSelect = 22, QueueSize = 24, QueueEnable = 28, QueueNotifyOff = 30,
  QueueDesc = 32, QueueDriver = 40, QueueDevice = 48,
};
enum StatusBits : uint8_t { Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8 };
// virtio_pci_cap.cfg_type (4.1.4).
enum CapType : uint8_t { CommonCfg = 1, NotifyCfg = 2, IsrCfg = 3, DeviceCfg = 4 };

struct VirtioCap {
  uint8_t bar = 0;
  uint32_t offset = 0;
};

}  // namespace

Result<VirtioPciTransport> VirtioPciTransport::probe(QemuProcess& process, PciFunction function, uint64_t bar_base) {
  auto capabilities = pci_capabilities(process, function);
  if (!capabilities) return capabilities.error();
  VirtioPciTransport t;
  t.function_ = function;
  t.bar_base_ = bar_base;
  std::optional<VirtioCap> common, notify, isr, device;
  for (const PciCapability& cap : *capabilities) {
    if (cap.id != 0x09) continue;
    auto head = pci_read(process, function, cap.offset);
    auto bar_word = pci_read(process, function, static_cast<uint8_t>(cap.offset + 4));
    auto offset = pci_read(process, function, static_cast<uint8_t>(cap.offset + 8));
    if (!head || !bar_word || !offset) return Error{"reading a virtio capability failed"};
    const VirtioCap found{static_cast<uint8_t>(*bar_word & 0xff), *offset};
    switch (static_cast<uint8_t>(*head >> 24)) {
      case CommonCfg: common = found; break;
      case NotifyCfg: {
        notify = found;
        auto multiplier = pci_read(process, function, static_cast<uint8_t>(cap.offset + 16));
        if (!multiplier) return multiplier.error();
        t.notify_multiplier_ = *multiplier;
        break;
      }
      case IsrCfg: isr = found; break;
      case DeviceCfg: device = found; break;
      default: break;
    }
  }
  if (!common || !notify || !isr || !device) return Error{"the virtio-pci function lacks a modern virtio capability"};
  if (common->bar != notify->bar || common->bar != device->bar || common->bar > 5) {
    return Error{"virtio capabilities in several BARs are not supported by this driver"};
  }
  t.bar_offset_ = static_cast<uint8_t>(0x10 + 4 * common->bar);
  auto original = pci_read(process, function, t.bar_offset_);
  if (!original) return original.error();
  if (*original & 1) return Error{"the virtio BAR is an I/O BAR"};
  t.bar_is_64bit_ = (*original & 0x6) == 0x4;
  auto command = pci_read(process, function, 0x04);
  if (!command) return command.error();
  t.command_register_ = *command & 0xffff;
  t.common_ = bar_base + common->offset;
  t.notify_ = bar_base + notify->offset;
  t.device_ = bar_base + device->offset;
  return t;
}

Status VirtioPciTransport::enable(QemuProcess& process) const {
  std::vector<std::string> commands = pci_write_commands(function_, bar_offset_, static_cast<uint32_t>(bar_base_));
  if (bar_is_64bit_) {
    auto upper = pci_write_commands(function_, static_cast<uint8_t>(bar_offset_ + 4), static_cast<uint32_t>(bar_base_ >> 32));
    commands.insert(commands.end(), upper.begin(), upper.end());
  }
  // Command register: memory space and bus mastering.
  auto enable = pci_write_commands(function_, 0x04, command_register_ | 0x6);
  commands.insert(commands.end(), enable.begin(), enable.end());
  if (auto done = process.qtest_batch(commands); !done) return done.error();
  return ok_status();
}

Result<bool> VirtioPciTransport::negotiate(QemuProcess& process, std::optional<uint64_t> accept, uint64_t default_accept) {
  const auto status_write = [&](uint8_t value) { return mmio_write_command(common_ + DeviceStatus, 1, value); };
  auto offered = process.qtest_batch({status_write(0), status_write(Acknowledge), status_write(Acknowledge | Driver),
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
  accepted_ = kFeatureVersion1 | accept.value_or(offered_ & default_accept);
  auto accepted = process.qtest_batch({mmio_write_command(common_ + DriverFeatureSelect, 4, 0),
                                       mmio_write_command(common_ + DriverFeature, 4, accepted_ & 0xffffffff),
                                       mmio_write_command(common_ + DriverFeatureSelect, 4, 1),
                                       mmio_write_command(common_ + DriverFeature, 4, accepted_ >> 32),
                                       status_write(Acknowledge | Driver | FeaturesOk),
                                       mmio_read_command(common_ + DeviceStatus, 1)});
  if (!accepted) return accepted.error();
  auto status = parse_hex(accepted->back());
  if (!status) return status.error();
  return (*status & FeaturesOk) != 0;
}

Result<VirtioPciTransport::Queue> VirtioPciTransport::select_queue(QemuProcess& process, uint16_t index) const {
  auto queue = process.qtest_batch({mmio_write_command(common_ + QueueSelect, 2, index),
                                    mmio_read_command(common_ + QueueSize, 2),
                                    mmio_read_command(common_ + QueueNotifyOff, 2)});
  if (!queue) return queue.error();
  auto size = parse_hex((*queue)[1]), notify_off = parse_hex((*queue)[2]);
  if (!size) return size.error();
  if (!notify_off) return notify_off.error();
  if (*size == 0 || *size > 1024) return Error{fmt::format("queue {} has size {}", index, *size)};
  return Queue{static_cast<uint16_t>(*size), notify_ + *notify_off * notify_multiplier_};
}

std::vector<std::string> VirtioPciTransport::enable_queue_commands(const QueueRings& rings,
                                                                  std::optional<uint16_t> size) const {
  std::vector<std::string> commands;
  if (size) commands.push_back(mmio_write_command(common_ + QueueSize, 2, *size));
  for (auto [offset, addr] : {std::pair{QueueDesc, rings.desc}, {QueueDriver, rings.avail}, {QueueDevice, rings.used}}) {
    commands.push_back(mmio_write_command(common_ + offset, 4, addr & 0xffffffff));
    commands.push_back(mmio_write_command(common_ + offset + 4, 4, addr >> 32));
  }
  commands.push_back(mmio_write_command(common_ + QueueEnable, 2, 1));
  commands.push_back(mmio_write_command(common_ + DeviceStatus, 1, Acknowledge | Driver | FeaturesOk | DriverOk));
  return commands;
}

std::string VirtioPciTransport::status_read_command() const { return mmio_read_command(common_ + DeviceStatus, 1); }

std::vector<std::string> VirtioPciTransport::config_and_status_reads(size_t bytes) const {
  std::vector<std::string> commands;
  for (size_t offset = 0; offset < bytes; offset += 4) commands.push_back(mmio_read_command(device_ + offset, 4));
  commands.push_back(status_read_command());
  return commands;
}

}  // namespace vmemcheck::qemu
