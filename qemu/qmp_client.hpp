// QEMU's machine protocol (QMP) over a QemuProcess's socket: one JSON object
// a line, parsed with nlohmann/json (Debian's nlohmann-json3-dev: header
// only, the most used C++ JSON library, strict RFC 8259 parsing with a
// non-throwing mode). Commands answer {"return": ...} or {"error": {...}};
// events ({"event": ...}) may come between and are kept for wait_event().
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "qemu_process.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

// A command's answer: its "return" value, or QMP's error (a refusal, such as
// a property value QEMU does not take; not a failure to talk to QEMU).
struct QmpReply {
  std::optional<nlohmann::json> value;
  std::string error_class;  // "GenericError", ...
  std::string error;        // its "desc"
  bool ok() const { return value.has_value(); }
};

// One line of QMP, as a reply to `command`. Error (QemuProtocol): not a
// JSON object, or neither a "return" nor an "error" with a string "desc".
Result<QmpReply> parse_qmp_reply(std::string_view line, std::string_view command);

class QmpClient {
 public:
  explicit QmpClient(QemuProcess& process) : process_(process) {}

  // Reads the greeting and negotiates capabilities (once, after launch).
  Status handshake();
  // Runs `command` with `arguments` (an object, or null for none).
  Result<QmpReply> execute(std::string_view command, const nlohmann::json& arguments = nullptr);
  // execute() in two halves, so qtest commands can run while QEMU works on it.
  Status send(std::string_view command, const nlohmann::json& arguments = nullptr);
  // The reply to `command`: the next line that is not an event (events are kept).
  Result<QmpReply> receive(std::string_view command);
  // Waits for an event of this name (seen before or now).
  Status wait_event(std::string_view name);

 private:
  QemuProcess& process_;
  std::deque<std::string> events_;  // names of events not yet waited for
};

// Polls query-migrate every `poll_ms` until the migration completed (ok) or
// failed (its error-desc); `side` ("source", "destination") names the QEMU
// in messages. Error also when not completed within `deadline_ms`.
Status wait_for_migration(QmpClient& qmp, std::string_view side, int deadline_ms, int poll_ms = 5);

}  // namespace vmemcheck::qemu
