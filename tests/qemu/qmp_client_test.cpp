// QMP replies are JSON, read with nlohmann/json: a malformed reply is a
// clear protocol error naming the command and the line, never a guess.
#include "qmp_client.hpp"

#include <gtest/gtest.h>

namespace vmemcheck::qemu {
namespace {

TEST(QmpReply, ReturnValue) {
  auto reply = parse_qmp_reply(R"({"return": {"status": "completed", "total-time": 12}})", "query-migrate");
  ASSERT_TRUE(reply) << reply.error().message;
  ASSERT_TRUE(reply->ok());
  EXPECT_EQ(reply->value->at("status"), "completed");
}

TEST(QmpReply, AnErrorIsARefusalWithItsDescription) {
  auto reply = parse_qmp_reply(
      R"({"error": {"class": "GenericError", "desc": "'requested-size' must be a multiple of 'block-size'"}})", "qom-set");
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_FALSE(reply->ok());
  EXPECT_EQ(reply->error_class, "GenericError");
  EXPECT_EQ(reply->error, "'requested-size' must be a multiple of 'block-size'");
}

TEST(QmpReply, EscapesAreDecoded) {
  auto reply = parse_qmp_reply(R"({"return": "address-space: memory\r\n  0000-ffff (prio 0, i/o): \"x\"\u0041"})", "info mtree");
  ASSERT_TRUE(reply) << reply.error().message;
  EXPECT_EQ(reply->value->get<std::string>(), "address-space: memory\r\n  0000-ffff (prio 0, i/o): \"x\"A");
}

TEST(QmpReply, MalformedRepliesAreClearErrors) {
  const struct {
    const char* line;
    const char* why;
  } cases[] = {
      {R"({"return": {"status": "compl)", "(not JSON)"},
      {R"(["return", 1])", "(not a JSON object)"},
      {R"({"timestamp": {"seconds": 1}})", "(neither \"return\" nor \"error\")"},
      {R"({"error": {"class": "GenericError"}})", "(an \"error\" without a string \"desc\")"},
      {R"({"error": "broken"})", "(an \"error\" without a string \"desc\")"},
  };
  for (const auto& c : cases) {
    auto reply = parse_qmp_reply(c.line, "query-migrate");
    ASSERT_FALSE(reply) << c.line;
    EXPECT_EQ(reply.error().code, ErrorCode::QemuProtocol) << c.line;
    EXPECT_EQ(reply.error().message,
              std::string("QEMU answered query-migrate with a malformed QMP reply ") + c.why + ": " + c.line);
  }
}

}  // namespace
}  // namespace vmemcheck::qemu
