// Outcomes are values; to_text() is the one place that words them, and the
// golden files, the CLI and "=> OUTCOME" read exactly these words.
#include "outcome.hpp"

#include <gtest/gtest.h>

namespace vmemcheck::scenario {
namespace {

TEST(Outcome, TextOfEachKind) {
  EXPECT_EQ(to_text(Outcome::ok()), "ok");
  EXPECT_EQ(to_text(Outcome::ok("addr=0x100000000")), "ok addr=0x100000000");
  EXPECT_EQ(to_text(Outcome::refused(Error{"no device 'x'"})), "error: no device 'x'");
  EXPECT_EQ(to_text(Outcome{Outcome::Kind::Idle}), "idle");
  EXPECT_EQ(to_text(Outcome{Outcome::Kind::Idle, "no queue"}), "idle (no queue)");
  EXPECT_EQ(to_text(Outcome{Outcome::Kind::Unmapped}), "unmapped");
  EXPECT_EQ(to_text(Outcome{Outcome::Kind::Armed}), "armed");
  Outcome read{Outcome::Kind::Read};
  read.value = 42;
  EXPECT_EQ(to_text(read), "0x2a");
}

TEST(Outcome, AnswersShowTheStateOfAnAcknowledgedStateOnly) {
  EXPECT_EQ(to_text(Outcome::answered(Response{ResponseType::Ack, BlockState::Mixed}, true)), "ACK MIXED");
  EXPECT_EQ(to_text(Outcome::answered(Response{ResponseType::Ack, BlockState::Mixed}, false)), "ACK");
  EXPECT_EQ(to_text(Outcome::answered(Response{ResponseType::Error, BlockState::Plugged}, true)), "ERROR");
  EXPECT_EQ(to_text(Outcome::answered(std::nullopt, false)), "none (device needs reset)");
}

TEST(Outcome, AKickListsItsChainsThenTheReasonThenTheFault) {
  Outcome kick = Outcome::answered(Response{ResponseType::Ack, BlockState::Plugged}, false);
  kick.answers.push_back({std::nullopt, false, 0});
  kick.error_reason = "request shorter than 24 bytes";
  EXPECT_EQ(to_text(kick), "ACK, none (device needs reset): request shorter than 24 bytes");
  Outcome fault{Outcome::Kind::Answered};
  fault.fault = "descriptor 7 out of range";
  EXPECT_EQ(to_text(fault), "fault: descriptor 7 out of range");
  fault.answers.push_back({Response{ResponseType::Nack, BlockState::Plugged}, false, 10});
  EXPECT_EQ(to_text(fault), "NACK; fault: descriptor 7 out of range");
}

TEST(Outcome, SameBehaviourIgnoresWordingButNotKindOrValue) {
  EXPECT_TRUE(same_behaviour(Outcome::refused(Error{"a"}), Outcome::refused(Error{"b", ErrorCode::QemuRefusedDevice})));
  EXPECT_TRUE(same_behaviour(Outcome::ok("addr=1"), Outcome::ok("features=2")));
  EXPECT_FALSE(same_behaviour(Outcome::ok(), Outcome::refused(Error{"a"})));
  EXPECT_FALSE(same_behaviour(Outcome::refused(Error{"a", ErrorCode::PhysBits}),
                              Outcome::refused(Error{"a", ErrorCode::QemuRefusedDevice})))
      << "refusals for two known, different reasons";
  Outcome one{Outcome::Kind::Read}, two{Outcome::Kind::Read};
  two.value = 1;
  EXPECT_FALSE(same_behaviour(one, two));
}

}  // namespace
}  // namespace vmemcheck::scenario
