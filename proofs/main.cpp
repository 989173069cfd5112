// vmemcheck_proofs [--jobs N] [--scenario-dir DIR] [PROOF...]
//
// Runs the named proofs (all when none is named), N at a time (default: one
// per CPU; each proof has its own Z3 context), prints each claim's verdict and
// time, proof by proof in a fixed order, and the totals. Exit status 0 means:
// every claim proven.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <future>
#include <memory>
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
  // Workers take the next proof; the main thread prints the reports in order.
  std::vector<std::promise<std::unique_ptr<Prover>>> done(selected.size());
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned w = 0; w < std::min<size_t>(jobs, selected.size()); ++w) {
    workers.emplace_back([&] {
      for (size_t k; (k = next++) < selected.size();) {
        auto prover = std::make_unique<Prover>(options);
        selected[k]->run(*prover);
        done[k].set_value(std::move(prover));
      }
    });
  }
  int failures = 0;
  double total = 0;
  for (auto& result : done) {
    const auto prover = result.get_future().get();
    fmt::print("{}", prover->report());
    std::fflush(stdout);
    total += prover->total_seconds();
    failures += prover->refuted();
  }
  for (auto& worker : workers) worker.join();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  fmt::print("total proof time: {:.2f} s ({:.2f} s wall, {} at a time)\n", total, wall, jobs);
  return failures == 0 ? 0 : 1;
}
