// The virtio-mem wire format (virtio spec, virtio-mem section; DESIGN §6).
// This file is the only place that knows the byte layout of requests,
// responses and the config space; everything else uses the typed forms.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace vmemcheck {

enum class RequestType : uint16_t { Plug = 0, Unplug = 1, UnplugAll = 2, State = 3 };
enum class ResponseType : uint16_t { Ack = 0, Nack = 1, Busy = 2, Error = 3 };
enum class BlockState : uint16_t { Plugged = 0, Unplugged = 1, Mixed = 2 };

inline constexpr size_t kRequestSize = 24;
inline constexpr size_t kResponseSize = 10;
inline constexpr size_t kConfigSize = 56;
inline constexpr uint16_t kQueueSize = 128;

// Feature bits offered by the device.
inline constexpr uint64_t kFeatureAcpiPxm = uint64_t{1} << 0;
inline constexpr uint64_t kFeatureUnpluggedInaccessible = uint64_t{1} << 1;
inline constexpr uint64_t kFeaturePersistentSuspend = uint64_t{1} << 2;

struct Request {
  RequestType type = RequestType::State;
  uint64_t addr = 0;
  uint16_t nb_blocks = 0;
  friend bool operator==(const Request&, const Request&) = default;
};

struct Response {
  ResponseType type = ResponseType::Ack;
  BlockState state = BlockState::Plugged;  // meaningful for an acknowledged STATE only
  friend bool operator==(const Response&, const Response&) = default;
};

struct ConfigSpace {
  uint64_t block_size = 0;
  uint16_t node_id = 0;
  uint64_t addr = 0;
  uint64_t region_size = 0;
  uint64_t usable_region_size = 0;
  uint64_t plugged_size = 0;
  uint64_t requested_size = 0;
  friend bool operator==(const ConfigSpace&, const ConfigSpace&) = default;
};

// A request type field the device does not know is a protocol violation
// (DESIGN §6), so decoding keeps it as a value instead of failing silently.
struct DecodedRequest {
  uint16_t raw_type = 0;
  uint64_t addr = 0;
  uint16_t nb_blocks = 0;
  std::optional<Request> known() const;
};

// Decodes the first 24 bytes; the caller has checked the length.
DecodedRequest decode_request(std::span<const uint8_t, kRequestSize> bytes);
std::array<uint8_t, kRequestSize> encode_request(const Request& request);
std::array<uint8_t, kResponseSize> encode_response(const Response& response);
std::optional<Response> decode_response(std::span<const uint8_t, kResponseSize> bytes);
std::array<uint8_t, kConfigSize> encode_config(const ConfigSpace& config);

// Little-endian fields of `width` bytes at `offset` (the caller checked the bounds).
inline uint64_t load_le(std::span<const uint8_t> bytes, size_t offset, size_t width) {
  uint64_t value = 0;
  for (size_t i = 0; i < width; ++i) value |= uint64_t{bytes[offset + i]} << (8 * i);
  return value;
}
inline void store_le(std::span<uint8_t> bytes, size_t offset, size_t width, uint64_t value) {
  for (size_t i = 0; i < width; ++i) bytes[offset + i] = static_cast<uint8_t>(value >> (8 * i));
}

std::string_view name(ResponseType type);
std::string_view name(BlockState state);

}  // namespace vmemcheck
