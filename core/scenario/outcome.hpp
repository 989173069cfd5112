// What an operation did, as a value: every device under test (the core, a
// QEMU, ...) answers an op with one, the comparison loop compares them by
// kind, responses and error code, and to_text() is the one place that turns
// them into the words the CLI, the golden files and the "=> OUTCOME"
// expectations read. No code branches on those words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "result.hpp"
#include "wire.hpp"

namespace vmemcheck::scenario {

// One request chain's fate: answered with a response, or not answered
// (the device entered its error state on it).
struct ChainAnswer {
  std::optional<Response> response{};
  bool state_request = false;  // an acknowledged STATE shows its block state
  uint32_t used_length = 0;    // what the used element says the device wrote (0: not answered)
  friend bool operator==(const ChainAnswer&, const ChainAnswer&) = default;
};

struct Outcome {
  enum class Kind : uint8_t {
    Ok,        // done; `detail` may say what was made ("addr=0x... memslots=4 slot-size=1G")
    Refused,   // not done: `code` and the message in `detail`
    Answered,  // request chains: `answers` in order, then maybe the device's error reason and a transport fault
    Idle,      // a kick found no chain (`detail`: why, if not just that)
    Read,      // a guest load: `value`
    Unmapped,  // a guest access or driver write found no memory there
    Armed,     // a fault is armed
    Report,    // a view's own summary line (`detail`), e.g. the KVM slot table's
  };
  Kind kind = Kind::Ok;
  std::string detail{};
  ErrorCode code = ErrorCode::Unspecified;
  std::vector<ChainAnswer> answers{};
  std::optional<std::string> error_reason{};  // Answered: why the device needs a reset after its last chain
  std::optional<std::string> fault{};         // Answered/Idle: a transport fault ended the kick
  uint64_t value = 0;

  static Outcome ok(std::string detail = {}) { return {Kind::Ok, std::move(detail)}; }
  static Outcome refused(const Error& error) { return {Kind::Refused, error.message, error.code}; }
  static Outcome of(const Status& status) { return status ? ok() : refused(status.error()); }
  static Outcome answered(std::optional<Response> response, bool state_request) {
    Outcome o{Kind::Answered};
    o.answers.push_back({response, state_request, response ? static_cast<uint32_t>(kResponseSize) : 0u});
    return o;
  }
  bool is_ok() const { return kind == Kind::Ok; }
  friend bool operator==(const Outcome&, const Outcome&) = default;
};

// "ACK", "ACK MIXED", "NACK", "none (device needs reset)".
std::string to_text(const ChainAnswer& answer);
// The outcome's words: "ok", "ok addr=...", "error: MESSAGE", "ACK, NACK: REASON; fault: WHY",
// "idle", "idle (no queue)", "0x2a", "unmapped", "armed", or a report's line.
std::string to_text(const Outcome& outcome);
// Whether two devices under test did the same: the same kind, and for
// answers whether a transport fault ended them, for reads the value, for
// refusals the code where both give one (a refusal's message, an Ok's
// detail and the responses themselves are compared elsewhere or not at
// all: each device words them its own way).
bool same_behaviour(const Outcome& a, const Outcome& b);

}  // namespace vmemcheck::scenario
