#include "qmp_client.hpp"

#include <unistd.h>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

Error malformed(std::string_view line, std::string_view command, std::string_view why) {
  return Error{fmt::format("QEMU answered {} with a malformed QMP reply ({}): {}", command, why, line),
               ErrorCode::QemuProtocol};
}

}  // namespace

namespace {

// A reply already parsed (each line is parsed once: `info mtree` answers are long).
Result<QmpReply> reply_of(const nlohmann::json& object, std::string_view line, std::string_view command) {
  if (object.is_discarded()) return malformed(line, command, "not JSON");
  if (!object.is_object()) return malformed(line, command, "not a JSON object");
  QmpReply reply;
  if (const auto value = object.find("return"); value != object.end()) {
    reply.value = *value;
    return reply;
  }
  const auto error = object.find("error");
  if (error == object.end()) return malformed(line, command, "neither \"return\" nor \"error\"");
  const auto desc = error->is_object() ? error->find("desc") : error->end();
  if (!error->is_object() || desc == error->end() || !desc->is_string()) {
    return malformed(line, command, "an \"error\" without a string \"desc\"");
  }
  reply.error = desc->get<std::string>();
  if (const auto kind = error->find("class"); kind != error->end() && kind->is_string()) {
    reply.error_class = kind->get<std::string>();
  }
  return reply;
}

// The event's name, if the object is an event.
std::optional<std::string> event_of(const nlohmann::json& object) {
  if (!object.is_object()) return std::nullopt;
  const auto event = object.find("event");
  if (event == object.end() || !event->is_string()) return std::nullopt;
  return event->get<std::string>();
}

}  // namespace

Result<QmpReply> parse_qmp_reply(std::string_view line, std::string_view command) {
  return reply_of(nlohmann::json::parse(line, nullptr, false), line, command);
}

Status QmpClient::handshake() {
  auto greeting = process_.read_qmp_line("reading the QMP greeting");
  if (!greeting) return greeting.error();
  const nlohmann::json object = nlohmann::json::parse(*greeting, nullptr, false);
  if (!object.is_object() || !object.contains("QMP")) return malformed(*greeting, "the greeting", "no \"QMP\" object");
  auto negotiated = execute("qmp_capabilities");
  if (!negotiated) return negotiated.error();
  if (!negotiated->ok()) return Error{"qmp_capabilities: " + negotiated->error, ErrorCode::QemuProtocol};
  return ok_status();
}

Status QmpClient::send(std::string_view command, const nlohmann::json& arguments) {
  nlohmann::json request{{"execute", command}};
  if (!arguments.is_null()) request["arguments"] = arguments;
  return process_.send_qmp(request.dump());
}

Result<QmpReply> QmpClient::receive(std::string_view command) {
  for (;;) {
    auto line = process_.read_qmp_line(fmt::format("waiting for QMP {}", command));
    if (!line) return line.error();
    nlohmann::json object = nlohmann::json::parse(*line, nullptr, false);
    if (auto event = event_of(object)) {
      events_.push_back(std::move(*event));
      continue;
    }
    return reply_of(object, *line, command);
  }
}

Result<QmpReply> QmpClient::execute(std::string_view command, const nlohmann::json& arguments) {
  if (auto sent = send(command, arguments); !sent) return sent.error();
  return receive(command);
}

Status QmpClient::wait_event(std::string_view name) {
  for (;;) {
    for (auto it = events_.begin(); it != events_.end(); ++it) {
      if (*it == name) {
        events_.erase(events_.begin(), it + 1);
        return ok_status();
      }
    }
    auto line = process_.read_qmp_line(fmt::format("waiting for QMP event {}", name));
    if (!line) return line.error();
    auto event = event_of(nlohmann::json::parse(*line, nullptr, false));
    if (!event) return malformed(*line, fmt::format("(waiting for event {})", name), "a line that is not an event");
    events_.push_back(std::move(*event));
  }
}

Status wait_for_migration(QmpClient& qmp, std::string_view side, int deadline_ms, int poll_ms) {
  for (int waited_ms = 0; waited_ms < deadline_ms; waited_ms += poll_ms) {
    auto reply = qmp.execute("query-migrate");
    if (!reply) return reply.error();
    if (!reply->ok()) return Error{fmt::format("query-migrate at the {}: {}", side, reply->error), ErrorCode::QemuProtocol};
    const std::string status = reply->value->value("status", "");
    if (status == "completed") return ok_status();
    if (status == "failed") {
      // Refused, as a start can be: the destination's checks refused the state.
      return Error{fmt::format("migration failed at the {}: {}", side, reply->value->value("error-desc", reply->value->dump())),
                   ErrorCode::QemuRefusedDevice};
    }
    ::usleep(static_cast<useconds_t>(poll_ms) * 1000);
  }
  return Error{fmt::format("migration not completed at the {} within {} s", side, deadline_ms / 1000)};
}

}  // namespace vmemcheck::qemu
