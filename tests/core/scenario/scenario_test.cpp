// The scenario language's parser: what it accepts, and that every refusal
// names the source, the line and the problem.
#include "scenario.hpp"

#include <gtest/gtest.h>

#include <string>

namespace vmemcheck::scenario {
namespace {

std::string error_of(std::string_view text) {
  const auto parsed = parse(text, "t.vmem");
  return parsed ? "" : parsed.error().message;
}

TEST(Scenario, ParsesOperationsCommentsAndExpectations) {
  const auto parsed = parse(
      "# a comment\n"
      "machine base=0x140000000 size=1T   # trailing comment\n"
      "\n"
      "device vmem0 size=4G block=2M mode=dynamic => ok\n"
      "plug vmem0 +2M 3 => ACK\n"
      "state vmem0 0x140200000 1 => ACK PLUGGED\n"
      "write vmem0 +8 0x2a\n",
      "t.vmem");
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->steps.size(), 5u);
  EXPECT_EQ(parsed->steps[0].line, 2);
  EXPECT_FALSE(parsed->steps[0].expected);
  const auto& device = std::get<AddDevice>(parsed->steps[1].op).config;
  EXPECT_EQ(device.region_size, uint64_t{4} << 30);
  EXPECT_EQ(device.mode, MemslotMode::Dynamic);
  EXPECT_EQ(parsed->steps[1].expected, "ok");
  const auto& plug = std::get<GuestRequest>(parsed->steps[2].op);
  EXPECT_EQ(plug.type, RequestType::Plug);
  EXPECT_EQ(plug.addr, (Address{2 << 20, true}));
  EXPECT_EQ(plug.nb_blocks, 3);
  const auto& state = std::get<GuestRequest>(parsed->steps[3].op);
  EXPECT_EQ(state.addr, (Address{0x140200000, false}));
  EXPECT_EQ(parsed->steps[3].expected, "ACK PLUGGED");
  EXPECT_EQ(std::get<GuestAccess>(parsed->steps[4].op).write_value, 0x2a);
}

TEST(Scenario, AcceptsCrlfLineEnds) {
  const auto parsed = parse("machine size=1T\r\nreset\r\n", "t.vmem");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(parsed->steps.size(), 2u);
}

TEST(Scenario, ErrorsNameFileLineAndProblem) {
  EXPECT_EQ(error_of("machine\nfrobnicate vmem0\n"), "t.vmem:2: unknown operation 'frobnicate'");
  EXPECT_EQ(error_of("plug vmem0 +0 70000\n"), "t.vmem:1: NB_BLOCKS (0..65535): '70000' is not a number in range");
  EXPECT_NE(error_of("\n\ndevice vmem0 size=1Q\n").find("t.vmem:3: "), std::string::npos);
  EXPECT_NE(error_of("device vmem0 size=1G colour=blue\n").find("t.vmem:1: "), std::string::npos);
  EXPECT_NE(error_of("device vmem0 size=1G colour=blue\n").find("colour"), std::string::npos);
  EXPECT_EQ(error_of("reset =>\n"), "t.vmem:1: '=>' must be followed by the expected outcome");
  EXPECT_EQ(error_of("=> ACK\n"), "t.vmem:1: '=>' without an operation");
  EXPECT_EQ(error_of("reset\nplug\xa7\n"), "t.vmem:2:5: byte 0xa7 is not part of a text scenario");
  EXPECT_EQ(error_of("fail crash\n"), "t.vmem:1: unknown fault 'crash' (map, populate, discard, attach)");
  EXPECT_NE(error_of("plug vmem0 +0 1 2\n").find("takes 3 arguments"), std::string::npos);
  EXPECT_EQ(error_of("poke 0x10 abc\n"), "t.vmem:1: HEXBYTES: an even number of hex digits, at most 4096 bytes");
  EXPECT_EQ(error_of("poke 0x10 zz\n"), "t.vmem:1: HEXBYTES: '0xzz' is not a number in range");
  EXPECT_EQ(error_of("queue vmem0 ring=0\n"), "t.vmem:1: unknown queue option 'ring' (size, desc, avail, used)");
  EXPECT_EQ(error_of("virtio-reset vmem0 hard\n"),
            "t.vmem:1: 'virtio-reset' takes an ID and, for a PCIe function-level reset, 'flr'; got 'hard'");
}

TEST(Scenario, FunctionLevelResetIsAVirtioResetByOtherMeans) {
  const auto parsed = parse("virtio-reset vmem0 flr\nvirtio-reset vmem0\n", "t.vmem");
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_TRUE(std::get<VirtioReset>(parsed->steps[0].op).function_level);
  EXPECT_FALSE(std::get<VirtioReset>(parsed->steps[1].op).function_level);
}

TEST(Scenario, TextFormRoundTrips) {
  const char* text =
      "machine base=0x140000000 size=2T numa-nodes=2 smm=on kvm-memslots=509\n"
      "device vmem0 size=1T block=4M requested=2G node=1 mode=count memslots=16\n"
      "device vmem1 size=8G mode=fixed slot-size=256M\n"
      "raw vmem0 type=9 addr=+4M nb=2 readable=23 writable=9\n"
      "migrate vmem0 mode=dynamic\n"
      "fail populate device=vmem1 skip=2\n"
      "fail map\n"  // the next device added: its realize
      "vhost vhost-user-fs max=32\n"
      "expect vmem0 mapped=0-3 plugged=2G\n"
      "read vmem1 +0\n"
      "queue vmem0 size=16 desc=0x1000 avail=0x2000 used=0x3000\n"
      "poke 0x1000 00ff7a\n"
      "kick vmem0\n"
      "virtio-reset vmem0 flr\n"
      "virtio-reset vmem1\n";
  const auto first = parse(text, "t.vmem");
  ASSERT_TRUE(first) << first.error().message;
  const auto second = parse(to_text(*first), "again.vmem");
  ASSERT_TRUE(second) << second.error().message << "\n" << to_text(*first);
  ASSERT_EQ(second->steps.size(), first->steps.size());
  for (size_t i = 0; i < first->steps.size(); ++i) EXPECT_EQ(second->steps[i].op, first->steps[i].op) << i;
}

}  // namespace
}  // namespace vmemcheck::scenario
