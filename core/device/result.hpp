// Errors as values: a minimal std::expected stand-in (libstdc++ 12 has none in
// C++20). Exceptions stay at the CLI edge.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace vmemcheck {

// What kind of failure an Error is, for code to branch on; the message is
// for people and nothing depends on its wording. Grouped by the layer that
// makes them; Unspecified where no caller tells failures apart.
enum class ErrorCode : uint8_t {
  Unspecified,
  // kvm/ and core/kvm: the host could not provide backing memory (an mmap
  // failed, the sparse host memory's addresses ran out): the platform's
  // limit, not a device rule.
  HostMemory,
  // core/kvm fault injection: an armed fault fired.
  InjectedFault,
  // core/machine: the machine's memslot budget or KVM's largest memslot refused a device;
  // the memory-device area lies beyond the guest's physical address bits (QEMU's rule).
  MemslotBudget,
  PhysBits,
  // qemu/: QEMU refused the device or its memory backend at start (it
  // exited naming that option); the process died or stopped answering; it
  // answered something the protocol does not allow (a malformed QMP or qtest reply).
  QemuRefusedDevice,
  QemuDied,
  QemuProtocol,
  // qemu/: an instrumented QEMU's sanitizer (ASan, UBSan) reported, which
  // ended it: a finding, whatever the device answered before.
  QemuSanitizerReport,
  // qemu/: QEMU ended by a signal of its own making (an assertion's abort,
  // a segmentation fault): a finding as well, in any build.
  QemuCrashed,
};

// A failure with a message meant for people: it names the offending value.
struct Error {
  std::string message;
  ErrorCode code = ErrorCode::Unspecified;
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
