#include "outcome.hpp"

#include <fmt/format.h>

namespace vmemcheck::scenario {

std::string to_text(const ChainAnswer& answer) {
  if (!answer.response) return "none (device needs reset)";
  if (answer.response->type == ResponseType::Ack && answer.state_request) {
    return fmt::format("{} {}", name(answer.response->type), name(answer.response->state));
  }
  return std::string(name(answer.response->type));
}

std::string to_text(const Outcome& o) {
  switch (o.kind) {
    case Outcome::Kind::Ok:
      return o.detail.empty() ? "ok" : "ok " + o.detail;
    case Outcome::Kind::Refused:
      return "error: " + o.detail;
    case Outcome::Kind::Answered: {
      std::string text;
      for (const ChainAnswer& answer : o.answers) text += (text.empty() ? "" : ", ") + to_text(answer);
      if (o.error_reason) text += ": " + *o.error_reason;
      if (o.fault) text += (text.empty() ? "" : "; ") + ("fault: " + *o.fault);
      return text;
    }
    case Outcome::Kind::Idle:
      return o.detail.empty() ? "idle" : fmt::format("idle ({})", o.detail);
    case Outcome::Kind::Read:
      return fmt::format("{:#x}", o.value);
    case Outcome::Kind::Unmapped:
      return "unmapped";
    case Outcome::Kind::Armed:
      return "armed";
    case Outcome::Kind::Report:
      return o.detail;
  }
  return "?";
}

bool same_behaviour(const Outcome& a, const Outcome& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Outcome::Kind::Answered:
      return a.fault.has_value() == b.fault.has_value();
    case Outcome::Kind::Read:
      return a.value == b.value;
    case Outcome::Kind::Refused:
      // For the same reason where both say one.
      return a.code == b.code || a.code == ErrorCode::Unspecified || b.code == ErrorCode::Unspecified;
    default:
      return true;
  }
}

}  // namespace vmemcheck::scenario
