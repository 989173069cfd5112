#include "wire.hpp"

namespace vmemcheck {

std::optional<Request> DecodedRequest::known() const {
  if (raw_type > static_cast<uint16_t>(RequestType::State)) return std::nullopt;
  return Request{static_cast<RequestType>(raw_type), addr, nb_blocks};
}

// Layout: le16 type; le16 pad[3]; le64 addr; le16 nb_blocks; le16 pad[3].
DecodedRequest decode_request(std::span<const uint8_t, kRequestSize> bytes) {
  return {static_cast<uint16_t>(load_le(bytes, 0, 2)), load_le(bytes, 8, 8),
          static_cast<uint16_t>(load_le(bytes, 16, 2))};
}

std::array<uint8_t, kRequestSize> encode_request(const Request& request) {
  std::array<uint8_t, kRequestSize> bytes{};
  store_le(bytes, 0, 2, static_cast<uint16_t>(request.type));
  store_le(bytes, 8, 8, request.addr);
  store_le(bytes, 16, 2, request.nb_blocks);
  return bytes;
}

// Layout: le16 type; le16 pad[3]; le16 state.
std::array<uint8_t, kResponseSize> encode_response(const Response& response) {
  std::array<uint8_t, kResponseSize> bytes{};
  store_le(bytes, 0, 2, static_cast<uint16_t>(response.type));
  store_le(bytes, 8, 2, static_cast<uint16_t>(response.state));
  return bytes;
}

std::optional<Response> decode_response(std::span<const uint8_t, kResponseSize> bytes) {
  const auto type = load_le(bytes, 0, 2);
  const auto state = load_le(bytes, 8, 2);
  if (type > static_cast<uint16_t>(ResponseType::Error) ||
      state > static_cast<uint16_t>(BlockState::Mixed)) {
    return std::nullopt;
  }
  return Response{static_cast<ResponseType>(type), static_cast<BlockState>(state)};
}

// Layout: le64 block_size; le16 node_id; u8 pad[6]; le64 addr; le64 region_size;
// le64 usable_region_size; le64 plugged_size; le64 requested_size.
std::array<uint8_t, kConfigSize> encode_config(const ConfigSpace& config) {
  std::array<uint8_t, kConfigSize> bytes{};
  store_le(bytes, 0, 8, config.block_size);
  store_le(bytes, 8, 2, config.node_id);
  store_le(bytes, 16, 8, config.addr);
  store_le(bytes, 24, 8, config.region_size);
  store_le(bytes, 32, 8, config.usable_region_size);
  store_le(bytes, 40, 8, config.plugged_size);
  store_le(bytes, 48, 8, config.requested_size);
  return bytes;
}

std::string_view name(ResponseType type) {
  switch (type) {
    case ResponseType::Ack: return "ACK";
    case ResponseType::Nack: return "NACK";
    case ResponseType::Busy: return "BUSY";
    case ResponseType::Error: return "ERROR";
  }
  return "?";
}

std::string_view name(BlockState state) {
  switch (state) {
    case BlockState::Plugged: return "PLUGGED";
    case BlockState::Unplugged: return "UNPLUGGED";
    case BlockState::Mixed: return "MIXED";
  }
  return "?";
}

}  // namespace vmemcheck
