#include "qmp_client.hpp"

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

Error malformed(std::string_view line, std::string_view command, std::string_view why) {
  return Error{fmt::format("QEMU answered {} with a malformed QMP reply ({}): {}", command, why, line),
               ErrorCode::QemuProtocol};
}

nlohmann::json parse_object(std::string_view line) {
  nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
  return object.is_object() ? object : nlohmann::json();
}

}  // namespace

Result<QmpReply> parse_qmp_reply(std::string_view line, std::string_view command) {
  const nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
  if (object.is_discarded()) return malformed(line, command, "not JSON");
  if (!object.is_object()) return malformed(line, command, "not a JSON object");
  QmpReply reply;
  if (const auto value = object.find("return"); value != object.end()) {
    reply.value = *value;
    return reply;
  }
  const auto error = object.find("error");
  if (error == object.end()) return malformed(line, command, "neither \"return\" nor \"error\"");
  const auto desc = error->find("desc");
  if (!error->is_object() || desc == error->end() || !desc->is_string()) {
    return malformed(line, command, "an \"error\" without a string \"desc\"");
  }
  reply.error = desc->get<std::string>();
  if (const auto kind = error->find("class"); kind != error->end() && kind->is_string()) {
    reply.error_class = kind->get<std::string>();
  }
  return reply;
}

Status QmpClient::handshake() {
  auto greeting = process_.read_qmp_line("reading the QMP greeting");
  if (!greeting) return greeting.error();
  const nlohmann::json object = parse_object(*greeting);
  if (!object.contains("QMP")) return malformed(*greeting, "the greeting", "no \"QMP\" object");
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

Result<std::string> QmpClient::next_reply_line(std::string_view command) {
  for (;;) {
    auto line = process_.read_qmp_line(fmt::format("waiting for QMP {}", command));
    if (!line) return line.error();
    const nlohmann::json object = parse_object(*line);
    if (const auto event = object.find("event"); event != object.end() && event->is_string()) {
      events_.push_back(event->get<std::string>());
      continue;
    }
    return line;
  }
}

Result<QmpReply> QmpClient::receive(std::string_view command) {
  auto line = next_reply_line(command);
  if (!line) return line.error();
  return parse_qmp_reply(*line, command);
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
    const nlohmann::json object = parse_object(*line);
    const auto event = object.find("event");
    if (event == object.end() || !event->is_string()) {
      return malformed(*line, fmt::format("(waiting for event {})", name), "a line that is not an event");
    }
    events_.push_back(event->get<std::string>());
  }
}

}  // namespace vmemcheck::qemu
