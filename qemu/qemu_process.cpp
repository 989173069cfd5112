#include "qemu_process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string_view>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

std::string errno_text() { return std::strerror(errno); }

Result<Fd> listen_unix(const std::string& path) {
  Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error{"socket: " + errno_text()};
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) return Error{"socket path too long: " + path};
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 || ::listen(fd.get(), 1) != 0) {
    return Error{fmt::format("listen on {}: {}", path, errno_text())};
  }
  return fd;
}

std::string exit_text(int status) {
  return WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status)) : fmt::format("signal {}", WTERMSIG(status));
}

bool executable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// An unpacked QEMU (scripts/install-deps puts 10.0 under /opt) finds neither
// its modules nor its firmware on its own: QEMU_MODULE_DIR and -L point into
// its tree, PREFIX/lib/x86_64-linux-gnu/qemu and PREFIX/share/qemu beside
// PREFIX/bin. The system's QEMU in /usr needs neither.
struct UnpackedTree {
  std::vector<std::string> env;
  std::vector<std::string> args;
};

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

UnpackedTree unpacked_tree(const std::string& binary) {
  UnpackedTree tree;
  const auto bin = binary.rfind('/');
  if (bin == std::string::npos || bin == 0) return tree;
  const auto prefix_end = binary.rfind('/', bin - 1);
  if (prefix_end == std::string::npos) return tree;
  const std::string prefix = binary.substr(0, prefix_end);
  if (prefix == "/usr" || prefix.empty()) return tree;
  if (const std::string modules = prefix + "/lib/x86_64-linux-gnu/qemu"; is_directory(modules)) {
    tree.env.push_back("QEMU_MODULE_DIR=" + modules);
  }
  if (const std::string data = prefix + "/share/qemu"; is_directory(data)) tree.args = {"-L", data};
  return tree;
}

// The exit status of a QEMU its sanitizer ended (QEMU's own are 0 and 1).
constexpr int kSanitizerExitCode = 66;

// What an instrumented QEMU (scripts/build-qemu) runs with; an uninstrumented
// one ignores it. Every sanitizer report ends QEMU (UBSan's would otherwise
// recover and go unseen) with kSanitizerExitCode, which tells a report from
// a crash (a code, not the report's wording; the log also holds warnings,
// such as ASan's on QEMU's coroutines); reports go to DIR/sanitizer.PID.
// Leaks are not checked: QEMU exits without freeing when it refuses a
// device, and vmemcheck ends it with SIGKILL, so LeakSanitizer would only
// report those exits. The user's own options come after the defaults and
// win, except for the exit code and the log path. Source-based coverage is
// written only where the user's LLVM_PROFILE_FILE says, else into DIR
// (removed with it) rather than into the working directory.
std::vector<std::string> sanitizer_environment(const std::string& dir) {
  const auto with_user = [](const char* name, const std::string& defaults, const std::string& log) {
    const char* user = std::getenv(name);
    return fmt::format("{}={}{}:exitcode={}:log_path={}", name, defaults, user ? std::string(":") + user : "",
                       kSanitizerExitCode, log);
  };
  const std::string log = dir + "/sanitizer";
  std::vector<std::string> env{with_user("ASAN_OPTIONS", "detect_leaks=0:halt_on_error=1", log),
                               with_user("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1", log)};
  if (!std::getenv("LLVM_PROFILE_FILE")) env.push_back("LLVM_PROFILE_FILE=" + dir + "/qemu-%p.profraw");
  return env;
}

// In a forked child: these NAME=VALUE assignments.
void export_env(const std::vector<std::string>& env) {
  for (const auto& assignment : env) {
    const auto equals = assignment.find('=');
    ::setenv(assignment.substr(0, equals).c_str(), assignment.substr(equals + 1).c_str(), 1);
  }
}

}  // namespace

Result<std::string> locate_binary(const std::string& binary) {
  const std::string hint = "install Debian's qemu-system-x86 (scripts/install-deps) or pass --qemu PATH";
  if (binary.find('/') != std::string::npos) {
    if (executable(binary)) return binary;
    return Error{fmt::format("QEMU binary '{}' is missing or not executable ({})", binary, hint)};
  }
  const char* path_env = std::getenv("PATH");
  std::stringstream dirs(path_env ? path_env : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + binary;
    if (executable(candidate)) return candidate;
  }
  return Error{fmt::format("QEMU binary '{}' not found in PATH ({})", binary, hint)};
}

Result<std::unique_ptr<QemuProcess>> QemuProcess::launch(const LaunchOptions& options) {
  auto located = locate_binary(options.binary);
  if (!located) return located.error();
  std::unique_ptr<QemuProcess> p(new QemuProcess());
  p->timeout_ms_ = options.timeout_ms;
  p->refusals_ = options.refusals;
  char dir_template[] = "/tmp/vmemcheck-qemu-XXXXXX";
  if (!::mkdtemp(dir_template)) return Error{"mkdtemp: " + errno_text()};
  p->dir_ = dir_template;
  const std::string qtest_path = p->dir_ + "/qtest.sock", qmp_path = p->dir_ + "/qmp.sock";
  const std::string console_path = p->dir_ + "/console.sock", log_path = p->dir_ + "/stderr.log";
  // QEMU connects to our sockets as a client while it starts up.
  std::vector<std::pair<Fd*, Fd>> listeners;
  for (const auto& [wanted, path, fd] : {std::tuple{options.qtest, qtest_path, &p->qtest_fd_},
                                         {true, qmp_path, &p->qmp_fd_}, {options.console, console_path, &p->console_fd_}}) {
    if (!wanted) continue;
    auto listener = listen_unix(path);
    if (!listener) return listener.error();
    listeners.emplace_back(fd, std::move(*listener));
  }
  const UnpackedTree tree = unpacked_tree(*located);
  std::vector<std::string> env = tree.env;
  for (auto& assignment : sanitizer_environment(p->dir_)) env.push_back(std::move(assignment));
  std::vector<std::string> args{*located};
  if (options.qtest) args.insert(args.end(), {"-S", "-qtest", "unix:" + qtest_path, "-qtest-log", "/dev/null"});
  args.insert(args.end(), {"-qmp", "unix:" + qmp_path});
  if (options.console) args.insert(args.end(), {"-serial", "unix:" + console_path});
  args.insert(args.end(), tree.args.begin(), tree.args.end());
  args.insert(args.end(), options.args.begin(), options.args.end());
  for (const auto& arg : tree.env) p->command_line_ += arg + " ";
  for (const auto& arg : args) p->command_line_ += arg + " ";
  p->command_line_.pop_back();
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return Error{"fork: " + errno_text()};
  if (pid == 0) {
    // The child: dies with its parent; stdout and stderr go to the log.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(126);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int null = ::open("/dev/null", O_RDONLY);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    if (null >= 0) ::dup2(null, 0);
    export_env(env);
    ::execv(argv[0], argv.data());
    const std::string message = fmt::format("exec {}: {}\n", argv[0], errno_text());
    [[maybe_unused]] const auto written = ::write(2, message.data(), message.size());
    ::_exit(127);
  }
  p->pid_ = pid;
  for (auto& [fd, listener] : listeners) {
    if (auto accepted = p->accept_from(listener, *fd, options.timeout_ms); !accepted) return accepted.error();
  }
  return p;
}

Status QemuProcess::accept_from(const Fd& listener, Fd& fd, int timeout_ms) {
  for (int waited = 0; !fd.valid();) {
    pollfd pfd{listener.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 50) > 0) {
      fd = Fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!fd.valid()) break;
      continue;
    }
    int status = 0;
    waited += 50;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return exited(status, "starting");
    }
    if (waited > timeout_ms) break;
  }
  if (!fd.valid()) return died("connecting its sockets");
  return ok_status();
}

QemuProcess::~QemuProcess() {
  // An instrumented QEMU writes its coverage profile only when it exits
  // normally, not on SIGKILL: when the user asked for profiles
  // (LLVM_PROFILE_FILE, scripts/qemu-coverage), end it with QMP `quit` and
  // give it 10 s (writing a profile takes well under one) before the kill.
  if (pid_ > 0 && qmp_fd_.valid() && std::getenv("LLVM_PROFILE_FILE")) {
    static constexpr std::string_view kQuit = "{\"execute\": \"quit\"}\n";
    if (::send(qmp_fd_.get(), kQuit.data(), kQuit.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(kQuit.size())) {
      for (int waited_ms = 0; waited_ms < 10000; waited_ms += 20) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;
        }
        ::usleep(20000);
      }
    }
  }
  qtest_fd_ = Fd();
  qmp_fd_ = Fd();
  console_fd_ = Fd();
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  std::error_code ignored;  // a directory that cannot be removed is left in /tmp, nothing worse
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
}

std::string QemuProcess::log_tail() const {
  std::ifstream in(dir_ + "/stderr.log");
  std::stringstream text;
  text << in.rdbuf();
  std::string log = text.str();
  while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
  if (log.size() > 2000) log = "..." + log.substr(log.size() - 2000);
  return log.empty() ? "(no output)" : log;
}

std::optional<std::string> QemuProcess::sanitizer_report() const {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
    if (!entry.path().filename().string().starts_with("sanitizer.")) continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  return std::nullopt;
}

Error QemuProcess::exited(int status, const std::string& what) const {
  if (WIFEXITED(status) && WEXITSTATUS(status) == kSanitizerExitCode) {
    return Error{fmt::format("QEMU's sanitizer reported while {}:\n{}", what, sanitizer_report().value_or("(no report file)")),
                 ErrorCode::QemuSanitizerReport};
  }
  const std::string log = log_tail();
  // Signals QEMU raises itself; vmemcheck ends QEMUs with SIGKILL, as the OOM killer does.
  if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGABRT || WTERMSIG(status) == SIGSEGV ||
                              WTERMSIG(status) == SIGBUS || WTERMSIG(status) == SIGFPE || WTERMSIG(status) == SIGILL)) {
    return Error{fmt::format("QEMU crashed ({}, {}) while {}:\n{}", exit_text(status), strsignal(WTERMSIG(status)), what,
                             log),
                 ErrorCode::QemuCrashed};
  }
  // QEMU's stderr says what it refused, in its own words (not ours).
  const auto refusal = std::ranges::find_if(refusals_, [&](const LaunchOptions::Refusal& r) {
    return log.find(r.text) != std::string::npos;
  });
  return Error{fmt::format("QEMU exited ({}) while {}: {}", exit_text(status), what, log),
               refusal == refusals_.end() ? ErrorCode::QemuDied : refusal->code};
}

Error QemuProcess::died(const std::string& what) {
  int status = 0;
  if (pid_ > 0 && ::waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return exited(status, what);
  }
  return Error{fmt::format("QEMU did not answer in {} ms while {}", timeout_ms_, what), ErrorCode::QemuDied};
}

Result<std::string> QemuProcess::read_line(const Fd& fd, std::string& buffer, const std::string& what) {
  return read_line(fd, buffer, what, timeout_ms_);
}

Result<std::string> QemuProcess::read_line(const Fd& fd, std::string& buffer, const std::string& what, int timeout_ms) {
  for (;;) {
    if (const auto newline = buffer.find('\n'); newline != std::string::npos) {
      std::string line = buffer.substr(0, newline);
      buffer.erase(0, newline + 1);
      return line;
    }
    pollfd pfd{fd.get(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, timeout_ms);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return died(what);
    char chunk[4096];
    const ssize_t got = ::read(fd.get(), chunk, sizeof chunk);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      // Closed: give the process a moment to be reaped for the message (and
      // to tell a sanitizer's end, which follows its report, from others).
      for (int i = 0; i < 200 && pid_ > 0; ++i) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          return exited(status, what);
        }
        ::usleep(10000);
      }
      return Error{fmt::format("QEMU closed its socket while {}", what), ErrorCode::QemuDied};
    }
    buffer.append(chunk, static_cast<size_t>(got));
  }
}

namespace {
Status write_all(const Fd& fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::send(fd.get(), text.data() + done, text.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{"write to QEMU: " + errno_text()};
    done += static_cast<size_t>(n);
  }
  return ok_status();
}
}  // namespace

Result<std::string> QemuProcess::qtest(const std::string& command) {
  auto answers = qtest_batch({command});
  if (!answers) return answers.error();
  return std::move(answers->front());
}

Result<std::vector<std::string>> QemuProcess::qtest_batch(const std::vector<std::string>& commands) {
  std::string text;
  for (const auto& command : commands) text += command + "\n";
  if (auto sent = write_all(qtest_fd_, text); !sent) return died("sending " + std::to_string(commands.size()) + " qtest commands");
  std::vector<std::string> answers;
  answers.reserve(commands.size());
  std::optional<Error> refused;  // the first refusal; every answer is still read, keeping the stream in step
  for (const auto& command : commands) {
    auto line = read_line(qtest_fd_, qtest_buffer_, "qtest '" + command + "'");
    while (line && line->starts_with("IRQ")) {  // asynchronous interrupt lines
      line = read_line(qtest_fd_, qtest_buffer_, "qtest '" + command + "'");
    }
    if (!line) return line.error();
    if (*line == "OK") answers.emplace_back();
    else if (line->starts_with("OK ")) answers.push_back(line->substr(3));
    else if (!refused) refused = Error{fmt::format("qtest '{}' answered '{}'", command, *line)};
  }
  if (refused) return *refused;
  return answers;
}

Status QemuProcess::send_qmp(const std::string& line) {
  if (auto sent = write_all(qmp_fd_, line + "\n"); !sent) return died("sending QMP " + line);
  return ok_status();
}

Result<std::string> QemuProcess::read_qmp_line(const std::string& what) { return read_line(qmp_fd_, qmp_buffer_, what); }

Result<std::string> QemuProcess::read_console_line(const std::string& what, int timeout_ms) {
  return read_line(console_fd_, console_buffer_, what, timeout_ms);
}

Status QemuProcess::send_console(const std::string& line) {
  if (auto sent = write_all(console_fd_, line + "\n"); !sent) return died("sending '" + line + "' to the console");
  return ok_status();
}

}  // namespace vmemcheck::qemu
