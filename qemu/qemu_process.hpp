// A qemu-system-x86_64 process under test: launched with -S (no vCPU runs),
// a qtest socket (port I/O, MMIO and guest-memory access) and a QMP socket
// (lines; qmp_client.hpp speaks its JSON); or, for a real guest, without -S
// and qtest, with its serial console on a socket instead. The destructor kills the
// process, reaps it and removes its sockets and temporary directory; the
// sockets are owned descriptors (os/fd.hpp).
#pragma once

#include <optional>
#include <string>
#include <vector>
#include <memory>

#include <sys/types.h>

#include "fd.hpp"
#include "result.hpp"

namespace vmemcheck::qemu {

struct LaunchOptions {
  std::string binary = "qemu-system-x86_64";
  std::vector<std::string> args;  // machine and devices; sockets and -S are added
  int timeout_ms = 20000;         // per answer
  // What QEMU may refuse at start: when it exits and its stderr holds
  // `text` (an option it names, "-device virtio-mem-pci", or its own words
  // for a rule, "phys-bits too low"), the error's code is `code`.
  struct Refusal {
    std::string text;
    ErrorCode code;
  };
  std::vector<Refusal> refusals;
  // Without qtest, a guest runs: no -S and no qtest socket, so TCG runs the vCPUs.
  bool qtest = true;
  // The guest's serial console on a socket of ours (read_console_line, send_console).
  bool console = false;
};

// Finds the binary (a path, or a name looked up in PATH). Error: a message
// saying it is missing and how to get it.
Result<std::string> locate_binary(const std::string& binary);

class QemuProcess {
 public:
  static Result<std::unique_ptr<QemuProcess>> launch(const LaunchOptions& options);
  ~QemuProcess();
  QemuProcess(const QemuProcess&) = delete;
  QemuProcess& operator=(const QemuProcess&) = delete;

  // One qtest command; the answer line without "OK" ("" or "0x...").
  // Error: a FAIL/ERR answer, or QEMU died or did not answer.
  Result<std::string> qtest(const std::string& command);
  // Several qtest commands sent at once, their answers in order: QEMU
  // answers each before reading the next, so one round trip serves them all.
  Result<std::vector<std::string>> qtest_batch(const std::vector<std::string>& commands);
  // The QMP socket's lines (QmpClient's transport). Error: QEMU died or
  // did not answer in time (`what` says what it was asked).
  Status send_qmp(const std::string& line);
  Result<std::string> read_qmp_line(const std::string& what);
  // The console's lines (LaunchOptions::console), each within `timeout_ms`.
  Result<std::string> read_console_line(const std::string& what, int timeout_ms);
  Status send_console(const std::string& line);

  // Its private directory, for further sockets (a migration's): removed with it.
  const std::string& directory() const { return dir_; }
  // The command line, for messages.
  const std::string& command_line() const { return command_line_; }
  pid_t pid() const { return pid_; }
  // QEMU's stderr so far (the last lines), for messages.
  std::string log_tail() const;
  // What an instrumented QEMU's sanitizer wrote (a report ends QEMU;
  // warnings do not), if anything.
  std::optional<std::string> sanitizer_report() const;

 private:
  QemuProcess() = default;
  Result<std::string> read_line(const Fd& fd, std::string& buffer, const std::string& what);
  Result<std::string> read_line(const Fd& fd, std::string& buffer, const std::string& what, int timeout_ms);
  // Accepts QEMU's connection to `listener` into `fd`, watching for an early death.
  Status accept_from(const Fd& listener, Fd& fd, int timeout_ms);
  // Why it stopped answering: it exited (see exited()) or did not answer in time.
  Error died(const std::string& what);
  // The error for an exit while doing `what`: QemuSanitizerReport (with the
  // report) when a sanitizer ended it, QemuCrashed (with its stderr) when a
  // signal of its own did, else the code of the first of the launch's
  // refusals its stderr holds, else QemuDied.
  Error exited(int status, const std::string& what) const;

  pid_t pid_ = -1;
  Fd qtest_fd_;
  Fd qmp_fd_;
  Fd console_fd_;
  int timeout_ms_ = 20000;
  std::vector<LaunchOptions::Refusal> refusals_;
  std::string dir_;
  std::string command_line_;
  std::string qtest_buffer_, qmp_buffer_, console_buffer_;
};

}  // namespace vmemcheck::qemu
