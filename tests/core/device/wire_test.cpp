#include "wire.hpp"

#include <gtest/gtest.h>

#include <array>
#include <vector>

namespace vmemcheck {
namespace {

std::vector<uint8_t> bytes_of(std::span<const uint8_t> span) { return {span.begin(), span.end()}; }

TEST(Wire, SizesMatchTheVirtioSpec) {
  EXPECT_EQ(kRequestSize, 24u);
  EXPECT_EQ(kResponseSize, 10u);
  EXPECT_EQ(kConfigSize, 56u);
  EXPECT_EQ(kQueueSize, 128u);
}

TEST(Wire, FeatureBits) {
  EXPECT_EQ(kFeatureAcpiPxm, 1u);
  EXPECT_EQ(kFeatureUnpluggedInaccessible, 2u);
  EXPECT_EQ(kFeaturePersistentSuspend, 4u);
}

TEST(Wire, EncodeRequestLayoutIsLittleEndian) {
  const auto bytes = encode_request({RequestType::UnplugAll, 0x0102030405060708, 0xA1B2});
  const std::vector<uint8_t> expected = {
      0x02, 0x00, 0, 0, 0, 0, 0, 0,                    // le16 type; pad[3]
      0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01,  // le64 addr
      0xB2, 0xA1, 0, 0, 0, 0, 0, 0};                   // le16 nb_blocks; pad[3]
  EXPECT_EQ(bytes_of(bytes), expected);
}

TEST(Wire, DecodeRequestRoundTrip) {
  for (auto type : {RequestType::Plug, RequestType::Unplug, RequestType::UnplugAll, RequestType::State}) {
    const Request request{type, 0x140200000, 513};
    const auto decoded = decode_request(encode_request(request));
    EXPECT_EQ(decoded.raw_type, static_cast<uint16_t>(type));
    EXPECT_EQ(decoded.addr, 0x140200000u);
    EXPECT_EQ(decoded.nb_blocks, 513u);
    ASSERT_TRUE(decoded.known().has_value());
    EXPECT_EQ(*decoded.known(), request);
  }
}

TEST(Wire, DecodeRequestIgnoresPadding) {
  auto bytes = encode_request({RequestType::Plug, 0x200000, 1});
  for (size_t i : {2u, 3u, 4u, 5u, 6u, 7u, 18u, 19u, 20u, 21u, 22u, 23u}) bytes[i] = 0xFF;
  const auto decoded = decode_request(bytes);
  EXPECT_EQ(decoded.raw_type, 0u);
  EXPECT_EQ(decoded.addr, 0x200000u);
  EXPECT_EQ(decoded.nb_blocks, 1u);
}

TEST(Wire, UnknownRequestTypeIsKeptAsValue) {
  std::array<uint8_t, kRequestSize> bytes{};
  bytes[0] = 4;
  const auto decoded = decode_request(bytes);
  EXPECT_EQ(decoded.raw_type, 4u);
  EXPECT_FALSE(decoded.known().has_value());
  bytes[0] = 0xFF;
  bytes[1] = 0xFF;
  EXPECT_EQ(decode_request(bytes).raw_type, 0xFFFFu);
  EXPECT_FALSE(decode_request(bytes).known().has_value());
  // 3 is the last known type.
  EXPECT_EQ((DecodedRequest{3, 0, 0}.known()->type), RequestType::State);
}

TEST(Wire, EncodeResponseLayout) {
  const auto bytes = encode_response({ResponseType::Ack, BlockState::Mixed});
  const std::vector<uint8_t> expected = {0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00};
  EXPECT_EQ(bytes_of(bytes), expected);
  EXPECT_EQ(encode_response({ResponseType::Error, BlockState::Plugged})[0], 3u);
}

TEST(Wire, DecodeResponseRoundTrip) {
  for (auto type : {ResponseType::Ack, ResponseType::Nack, ResponseType::Busy, ResponseType::Error}) {
    for (auto state : {BlockState::Plugged, BlockState::Unplugged, BlockState::Mixed}) {
      const Response response{type, state};
      EXPECT_EQ(decode_response(encode_response(response)), response);
    }
  }
}

TEST(Wire, DecodeResponseRejectsUnknownValues) {
  std::array<uint8_t, kResponseSize> bytes{};
  bytes[0] = 4;  // no response type 4
  EXPECT_EQ(decode_response(bytes), std::nullopt);
  bytes[0] = 0;
  bytes[8] = 3;  // no block state 3
  EXPECT_EQ(decode_response(bytes), std::nullopt);
  bytes[8] = 0;
  bytes[9] = 1;  // 0x100: the high byte counts
  EXPECT_EQ(decode_response(bytes), std::nullopt);
}

TEST(Wire, EncodeConfigLayout) {
  const ConfigSpace config{0x200000, 0x0102, 0x140000000, 0x7D00000000, 0x90000000, 0x80000000, 0x80000000};
  const auto bytes = encode_config(config);
  const auto le64 = [&](size_t offset) {
    uint64_t value = 0;
    for (size_t i = 0; i < 8; ++i) value |= uint64_t{bytes[offset + i]} << (8 * i);
    return value;
  };
  EXPECT_EQ(le64(0), 0x200000u);        // block_size
  EXPECT_EQ(bytes[8], 0x02);            // le16 node_id
  EXPECT_EQ(bytes[9], 0x01);
  for (size_t i = 10; i < 16; ++i) EXPECT_EQ(bytes[i], 0) << "padding byte " << i;
  EXPECT_EQ(le64(16), 0x140000000u);    // addr
  EXPECT_EQ(le64(24), 0x7D00000000u);   // region_size
  EXPECT_EQ(le64(32), 0x90000000u);     // usable_region_size
  EXPECT_EQ(le64(40), 0x80000000u);     // plugged_size
  EXPECT_EQ(le64(48), 0x80000000u);     // requested_size
}

TEST(Wire, Names) {
  EXPECT_EQ(name(ResponseType::Ack), "ACK");
  EXPECT_EQ(name(ResponseType::Nack), "NACK");
  EXPECT_EQ(name(ResponseType::Busy), "BUSY");
  EXPECT_EQ(name(ResponseType::Error), "ERROR");
  EXPECT_EQ(name(BlockState::Plugged), "PLUGGED");
  EXPECT_EQ(name(BlockState::Unplugged), "UNPLUGGED");
  EXPECT_EQ(name(BlockState::Mixed), "MIXED");
}

TEST(Wire, EnumValuesMatchTheSpec) {
  EXPECT_EQ(static_cast<uint16_t>(RequestType::Plug), 0);
  EXPECT_EQ(static_cast<uint16_t>(RequestType::Unplug), 1);
  EXPECT_EQ(static_cast<uint16_t>(RequestType::UnplugAll), 2);
  EXPECT_EQ(static_cast<uint16_t>(RequestType::State), 3);
  EXPECT_EQ(static_cast<uint16_t>(ResponseType::Ack), 0);
  EXPECT_EQ(static_cast<uint16_t>(ResponseType::Nack), 1);
  EXPECT_EQ(static_cast<uint16_t>(ResponseType::Busy), 2);
  EXPECT_EQ(static_cast<uint16_t>(ResponseType::Error), 3);
  EXPECT_EQ(static_cast<uint16_t>(BlockState::Plugged), 0);
  EXPECT_EQ(static_cast<uint16_t>(BlockState::Unplugged), 1);
  EXPECT_EQ(static_cast<uint16_t>(BlockState::Mixed), 2);
}

}  // namespace
}  // namespace vmemcheck
