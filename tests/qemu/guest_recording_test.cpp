// QEMU's virtio_mem_* trace read into events and a recording turned into a
// scenario, without a guest: a complete conversation converts, an
// incomplete one is refused with the request it lacks.
#include <gtest/gtest.h>

#include "guest_recording.hpp"
#include "recorded_device_under_test.hpp"
#include "virtio_mem_trace.hpp"

namespace vmemcheck::qemu {
namespace {

// Lines as QEMU 10.0.2's log backend wrote them (its resized format has no space before new_size).
constexpr std::string_view kTrace =
    "virtio_mem_resized_usable_region old_size=0x0new_size=0x20000000\n"
    "virtio_mem_unplugged_all \n"
    "virtio_mem_plug_request addr=0x100000000 nb_blocks=64\n"
    "virtio_mem_send_response type=0\n"
    "virtio_mem_state_request addr=0x100000000 nb_blocks=128\n"
    "virtio_mem_state_response state=2\n"
    "virtio_mem_send_response type=0\n"
    "virtio_mem_unplug_all_request \n"
    "virtio_mem_unplugged_all \n"
    "virtio_mem_send_response type=0\n";

GuestRecording recording(std::vector<VirtioMemTraceEvent> events) {
  GuestRecording r;
  DeviceConfig device;
  device.id = "vmem0";
  device.region_size = 4 * GiB;
  device.addr = 4 * GiB;
  r.devices.push_back(device);
  r.events = std::move(events);
  r.marks.push_back({4, RecordedCheckpoint{"vmem0", 2 * MiB * 64, 128 * MiB, {}}});
  return r;
}

TEST(VirtioMemTrace, ReadsEveryEventOfQemusLogBackend) {
  const auto events = parse_virtio_mem_trace(kTrace);
  ASSERT_TRUE(events) << events.error().message;
  ASSERT_EQ(events->size(), 10u);
  EXPECT_EQ((*events)[0].size, 0x20000000u);
  EXPECT_EQ((*events)[2].addr, 0x100000000u);
  EXPECT_EQ((*events)[2].nb_blocks, 64u);
  EXPECT_EQ((*events)[5].value, 2u);
}

TEST(VirtioMemTrace, RefusesAnEventItDoesNotKnow) {
  const auto events = parse_virtio_mem_trace("virtio_mem_frobnicate x=1\n");
  ASSERT_FALSE(events);
  EXPECT_EQ(events.error().message, "trace line 1: unknown event 'virtio_mem_frobnicate'");
}

TEST(GuestRecording, ConvertsRequestsResetsAndCheckpointsInOrder) {
  RecordingCounts counts;
  const auto scenario = to_scenario(recording(*parse_virtio_mem_trace(kTrace)), counts);
  ASSERT_TRUE(scenario) << scenario.error().message;
  EXPECT_EQ(scenario::to_text(*scenario),
            "machine\n"
            "device vmem0 size=4G addr=0x100000000 memdev=mem0\n"
            "reset\n"
            "plug vmem0 0x100000000 64 => ACK\n"
            "checkpoint vmem0 plugged=0x8000000 requested=0x8000000 usable=0x20000000\n"
            "state vmem0 0x100000000 128 => ACK MIXED\n"
            "unplug-all vmem0 => ACK\n");
  EXPECT_EQ(counts.requests, 3u);
  EXPECT_EQ(counts.responses, 3u);
  EXPECT_EQ(counts.resets, 1u);
}

TEST(GuestRecording, RefusesARequestWithoutAResponse) {
  RecordingCounts counts;
  const auto scenario = to_scenario(recording(*parse_virtio_mem_trace(
                                        "virtio_mem_plug_request addr=0x100000000 nb_blocks=64\n"
                                        "virtio_mem_plug_request addr=0x108000000 nb_blocks=64\n")),
                                    counts);
  ASSERT_FALSE(scenario);
  EXPECT_EQ(scenario.error().message, "trace event 2: 'plug vmem0 0x100000000 64' got no response before the next request");
}

// Two devices: requests go to the device whose region holds them, one reset
// traces an unplug-all per device, usable-region changes follow realize order.
TEST(GuestRecording, AttributesEventsToSeveralDevices) {
  GuestRecording r = recording(*parse_virtio_mem_trace(
      "virtio_mem_resized_usable_region old_size=0x0new_size=0x20000000\n"
      "virtio_mem_resized_usable_region old_size=0x0new_size=0x10000000\n"
      "virtio_mem_unplugged_all \n"
      "virtio_mem_resized_usable_region old_size=0x20000000new_size=0x20000000\n"
      "virtio_mem_unplugged_all \n"
      "virtio_mem_resized_usable_region old_size=0x10000000new_size=0x10000000\n"
      "virtio_mem_plug_request addr=0x200000000 nb_blocks=64\n"
      "virtio_mem_send_response type=0\n"));
  DeviceConfig second = r.devices[0];
  second.id = "vmem1";
  second.addr = 8 * GiB;
  second.region_size = 2 * GiB;
  r.devices.push_back(second);
  r.marks = {{8, RecordedCheckpoint{"vmem1", 128 * MiB, 128 * MiB, {}}}};
  RecordingCounts counts;
  const auto scenario = to_scenario(r, counts);
  ASSERT_TRUE(scenario) << scenario.error().message;
  EXPECT_EQ(scenario::to_text(*scenario),
            "machine\n"
            "device vmem0 size=4G addr=0x100000000 memdev=mem0\n"
            "device vmem1 size=2G addr=0x200000000 memdev=mem0\n"
            "reset\n"
            "plug vmem1 0x200000000 64 => ACK\n"
            "checkpoint vmem1 plugged=0x8000000 requested=0x8000000 usable=0x10000000\n");
  EXPECT_EQ(counts.resets, 1u);
}

// A migration of the running guest (item 3): the whole VM moves, so each
// device migrates to the destination's memslot mode, between the events
// before and after it.
TEST(GuestRecording, MigratesEveryDeviceAtItsMark) {
  GuestRecording r = recording(*parse_virtio_mem_trace(
      "virtio_mem_plug_request addr=0x100000000 nb_blocks=64\n"
      "virtio_mem_send_response type=0\n"
      "virtio_mem_plug_request addr=0x108000000 nb_blocks=64\n"
      "virtio_mem_send_response type=0\n"));
  r.marks = {{2, RecordedMigration{"static"}}, {4, RecordedMigration{"dynamic"}}};
  RecordingCounts counts;
  const auto scenario = to_scenario(r, counts);
  ASSERT_TRUE(scenario) << scenario.error().message;
  EXPECT_EQ(scenario::to_text(*scenario),
            "machine\n"
            "device vmem0 size=4G addr=0x100000000 memdev=mem0\n"
            "plug vmem0 0x100000000 64 => ACK\n"
            "migrate vmem0 mode=static\n"
            "plug vmem0 0x108000000 64 => ACK\n"
            "migrate vmem0 mode=dynamic\n");
  EXPECT_EQ(counts.migrations, 2u);
}

TEST(GuestRecording, PluggedBlocksFollowAcknowledgedRequestsOnly) {
  const auto events = *parse_virtio_mem_trace(
      "virtio_mem_plug_request addr=0x100000000 nb_blocks=2\n"
      "virtio_mem_send_response type=0\n"
      "virtio_mem_plug_request addr=0x100400000 nb_blocks=1\n"
      "virtio_mem_send_response type=1\n");
  EXPECT_EQ(plugged_blocks(events, events.size(), 2 * MiB), (std::set<uint64_t>{0x100000000, 0x100200000}));
  EXPECT_TRUE(plugged_blocks(events, 0, 2 * MiB).empty());
}

TEST(RecordedAnswer, ReadsBackWhatToTextWrites) {
  const auto mixed = scenario::parse_recorded_answer("ACK MIXED", true);
  ASSERT_TRUE(mixed);
  EXPECT_EQ(scenario::to_text(*mixed), "ACK MIXED");
  EXPECT_EQ(scenario::to_text(*scenario::parse_recorded_answer("NACK", false)), "NACK");
  EXPECT_FALSE(scenario::parse_recorded_answer("ACK MIXED", false));
  EXPECT_FALSE(scenario::parse_recorded_answer("maybe", false));
}

}  // namespace
}  // namespace vmemcheck::qemu
