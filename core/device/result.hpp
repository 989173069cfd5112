// Errors as values: a minimal std::expected stand-in (libstdc++ 12 has none in
// C++20). Exceptions stay at the CLI edge.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace vmemcheck {

// A failure with a message meant for people: it names the offending value.
struct Error {
  std::string message;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<T>(state_); }
  const T& value() const { return std::get<T>(state_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

struct Ok {};
using Status = Result<Ok>;

inline Status ok_status() { return Ok{}; }

}  // namespace vmemcheck
