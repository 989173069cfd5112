// vmemcheck_proofs [--jobs N] [--scenario-dir DIR] [PROOF...]
//
// Runs the named proofs (all when none is named), N at a time (default: one
// per CPU; each proof in a process of its own), prints each claim's verdict and
// time, proof by proof in a fixed order, and the totals. Exit status 0 means:
// every claim proven.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "proofs.hpp"

namespace {

using vmemcheck::proofs::Prover;

struct Entry {
  std::string_view name;
  void (*run)(Prover&);
};

constexpr Entry kProofs[] = {
    {"layout", vmemcheck::proofs::layout_proof},
    {"request", vmemcheck::proofs::request_proof},
    {"usable", vmemcheck::proofs::usable_proof},
    {"index", vmemcheck::proofs::index_proof},
    {"activation", vmemcheck::proofs::activation_proof},
    {"budget", vmemcheck::proofs::budget_proof},
};

int usage(const char* program) {
  fmt::print(stderr, "usage: {} [--jobs N] [--scenario-dir DIR] [PROOF...]\n", program);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  vmemcheck::proofs::Options options;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  std::vector<const Entry*> selected;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--scenario-dir" && i + 1 < argc) {
      options.scenario_dir = argv[++i];
    } else if (arg == "--jobs" && i + 1 < argc) {
      const std::string_view value = argv[++i];
      const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), jobs);
      if (error != std::errc() || end != value.data() + value.size() || jobs == 0) {
        fmt::print(stderr, "--jobs: '{}' is not a number of at least 1\n", value);
        return 2;
      }
    } else if (arg.starts_with("-")) {
      return usage(argv[0]);
    } else {
      const auto* entry = std::find_if(std::begin(kProofs), std::end(kProofs),
                                       [&](const Entry& e) { return e.name == arg; });
      if (entry == std::end(kProofs)) {
        fmt::print(stderr, "unknown proof '{}'\n", arg);
        return 2;
      }
      selected.push_back(entry);
    }
  }
  if (selected.empty()) {
    for (const auto& entry : kProofs) selected.push_back(&entry);
  }

  const auto start = std::chrono::steady_clock::now();
  // Each proof runs in a child process, `jobs` at a time: Z3 4.8's solver
  // timers deadlock when contexts run in threads of one process. A child
  // writes its report and its counts to a pipe; the reports print in order.
  struct Child {
    pid_t pid = -1;
    int pipe = -1;
  };
  std::vector<Child> children(selected.size());
  const auto launch = [&](size_t k) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::fflush(stdout);
    const pid_t pid = fork();
    if (pid < 0) throw std::runtime_error("fork failed");
    if (pid == 0) {
      close(fds[0]);
      Prover prover(options);
      selected[k]->run(prover);
      const std::string out = fmt::format("{} {:.6f}\n{}", prover.refuted(), prover.total_seconds(), prover.report());
      for (size_t written = 0; written < out.size();) {
        const ssize_t n = write(fds[1], out.data() + written, out.size() - written);
        if (n <= 0) _exit(3);
        written += static_cast<size_t>(n);
      }
      _exit(0);
    }
    close(fds[1]);
    children[k] = {pid, fds[0]};
  };
  size_t launched = 0;
  for (; launched < std::min<size_t>(jobs, selected.size()); ++launched) launch(launched);
  int failures = 0;
  double total = 0;
  for (size_t k = 0; k < selected.size(); ++k) {
    std::string out;
    char buffer[4096];
    for (ssize_t n; (n = read(children[k].pipe, buffer, sizeof buffer)) > 0;) out.append(buffer, static_cast<size_t>(n));
    close(children[k].pipe);
    int status = 0;
    waitpid(children[k].pid, &status, 0);
    if (launched < selected.size()) launch(launched++);
    int refuted = 0;
    double seconds = 0;
    const size_t newline = out.find('\n');
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || newline == std::string::npos ||
        std::sscanf(out.c_str(), "%d %lf", &refuted, &seconds) != 2) {
      fmt::print("{}: the proof's process failed (status {:#x})\n", selected[k]->name, status);
      ++failures;
      continue;
    }
    fmt::print("{}", out.substr(newline + 1));
    std::fflush(stdout);
    total += seconds;
    failures += refuted;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("total proof time: {:.2f} s ({:.2f} s wall, {} at a time)\n", total, wall, jobs);
  return failures == 0 ? 0 : 1;
}
