// The q35 command line for several virtio-mem-pci devices in one machine
// (issue 24, item 5): one backend and one device each, in order, the
// machine's fields from the first, and without a memory-device space one
// just fitting the device that ends last.
#include <gtest/gtest.h>

#include <algorithm>

#include "qemu_machine.hpp"

namespace vmemcheck::qemu {
namespace {

std::vector<std::string> after(const std::vector<std::string>& args, const std::string& option) {
  std::vector<std::string> values;
  for (size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == option) values.push_back(args[i + 1]);
  }
  return values;
}

QemuGeometry device(std::string id, std::string memdev, uint64_t size, uint64_t requested, uint64_t addr) {
  QemuGeometry g;
  g.id = std::move(id);
  g.memdev = std::move(memdev);
  g.region_size = size;
  g.requested_size = requested;
  g.addr = addr;
  return g;
}

TEST(QemuMachine, SeveralDevicesShareOneMachine) {
  const QemuGeometry first = device("vmem0", "mem0", 2 * GiB, 512 * MiB, 4 * GiB);
  QemuGeometry second = device("vmem1", "mem1", 4 * GiB, 1 * GiB, 6 * GiB);
  second.dynamic_memslots = true;
  const std::vector<QemuGeometry> devices{first, second};
  const auto args = qemu_arguments(devices);
  EXPECT_EQ(after(args, "-object"),
            (std::vector<std::string>{"memory-backend-ram,id=mem0,size=2147483648,reserve=off",
                                      "memory-backend-ram,id=mem1,size=4294967296,reserve=off"}));
  EXPECT_EQ(after(args, "-device"),
            (std::vector<std::string>{
                "virtio-mem-pci,id=vmem0,memdev=mem0,block-size=2097152,requested-size=536870912,"
                "unplugged-inaccessible=on,memaddr=4294967296",
                "virtio-mem-pci,id=vmem1,memdev=mem1,block-size=2097152,requested-size=1073741824,"
                "unplugged-inaccessible=on,dynamic-memslots=on,memaddr=6442450944"}));
  // 128 MiB of boot RAM and the 6 GiB from 4 GiB to the second device's end.
  EXPECT_EQ(after(args, "-m"), (std::vector<std::string>{"128M,maxmem=6272M,slots=1"}));
  // One device: the same line as before.
  EXPECT_EQ(qemu_arguments(first), qemu_arguments(std::vector<QemuGeometry>{first}));
}

// A device that device_del may remove sits on its own pcie-root-port, each
// port of a machine with its own chassis number (QEMU refuses a repeated one).
TEST(QemuMachine, HotplugSlotsAreRootPortsWithTheirOwnChassis) {
  QemuGeometry first = device("vmem0", "mem0", GiB, 0, 4 * GiB);
  QemuGeometry second = device("vmem1", "mem1", GiB, 0, 5 * GiB);
  first.hotplug_slot = second.hotplug_slot = true;
  EXPECT_EQ(after(qemu_arguments(std::vector<QemuGeometry>{first, second}), "-device"),
            (std::vector<std::string>{
                "pcie-root-port,id=vmem0-port,bus=pcie.0,chassis=1",
                "virtio-mem-pci,id=vmem0,memdev=mem0,block-size=2097152,requested-size=0,"
                "unplugged-inaccessible=on,memaddr=4294967296,bus=vmem0-port",
                "pcie-root-port,id=vmem1-port,bus=pcie.0,chassis=2",
                "virtio-mem-pci,id=vmem1,memdev=mem1,block-size=2097152,requested-size=0,"
                "unplugged-inaccessible=on,memaddr=5368709120,bus=vmem1-port"}));
}

TEST(QemuMachine, EachBackendMayBeRefused) {
  const std::vector<QemuGeometry> devices{device("vmem0", "mem0", GiB, 0, 4 * GiB), device("vmem1", "mem1", GiB, 0, 5 * GiB)};
  const auto refused = refusals(devices);
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_EQ(refused[1].text, "-object memory-backend-ram,id=mem0");
  EXPECT_EQ(refused[2].text, "-object memory-backend-ram,id=mem1");
}

}  // namespace
}  // namespace vmemcheck::qemu
