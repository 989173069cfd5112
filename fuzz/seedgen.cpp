// seedgen: writes corpus/<target>/ seed inputs. Draws random inputs from a
// fixed-seed PRNG, runs each like the fuzz target does, and keeps an input
// when it reaches a behaviour no kept input reached: (operation, memslot
// mode of its device, outcome) triples, so the seeds cover every request
// type and response, every memslot mode and the virtqueue's faults.
// Deterministic: the same build writes the same corpus.
//   seedgen CORPUS_DIR [TRIES]
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <fmt/format.h>

#include "fuzz_decoder.hpp"
#include "scenario_runner.hpp"

namespace {

using namespace vmemcheck;

// The kind of an outcome without its numbers: "ACK MIXED", "none", "ok", "read",
// "fault: descriptor # chains", "error: device 'vmem#':".
std::string kind_of(const std::string& outcome) {
  if (outcome.starts_with("0x")) return "read";
  const bool message = outcome.starts_with("fault: ") || outcome.starts_with("error: ");
  std::string kind;
  size_t words = 0;
  for (size_t start = 0; start < outcome.size() && words < (message ? 4 : 2); ++words) {
    size_t end = outcome.find(' ', start);
    if (end == std::string::npos) end = outcome.size();
    std::string word = outcome.substr(start, end - start);
    if (!message && (word.find_first_of("(:=") != std::string::npos)) break;
    if (word.find_first_of("0123456789") != std::string::npos) word = "#";
    kind += (kind.empty() ? "" : " ") + word;
    start = end + 1;
  }
  return kind;
}

std::set<std::string> features(fuzz::Target target, const std::vector<uint8_t>& input, bool& problem) {
  std::set<std::string> out;
  const auto s = fuzz::decode(target, input);
  scenario::Runner runner;
  for (const auto& step : s.steps) {
    const auto report = runner.step(step);
    problem = problem || !report.problems.empty();
    const std::string verb = report.op_text.substr(0, report.op_text.find(' '));
    std::string mode = "-";
    std::visit(
        [&](const auto& op) {
          if constexpr (requires { op.device; }) {
            if constexpr (std::is_same_v<decltype(op.device), std::string>) {
              if (const auto* d = runner.machine() ? runner.machine()->find(op.device) : nullptr) {
                mode = std::string(name(d->config().mode));
              }
            }
          }
        },
        step.op);
    // A kick answers several chains, then may fault: each counts.
    const scenario::Outcome& outcome = report.outcome;
    if (outcome.kind != scenario::Outcome::Kind::Answered) {
      out.insert(fmt::format("{} {} {}", verb, mode, kind_of(scenario::to_text(outcome))));
      continue;
    }
    if (outcome.fault) out.insert(fmt::format("{} {} {}", verb, mode, kind_of("fault: " + *outcome.fault)));
    for (const scenario::ChainAnswer& answer : outcome.answers) {
      out.insert(fmt::format("{} {} {}", verb, mode, kind_of(scenario::to_text(answer))));
    }
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: seedgen CORPUS_DIR [TRIES]  (writes CORPUS_DIR/<target>/seed-NNN)\n");
    return 2;
  }
  const std::filesystem::path root(argv[1]);
  const uint64_t tries = argc > 2 ? std::stoull(argv[2]) : 20000;
  for (fuzz::Target target : fuzz::kTargets) {
    std::mt19937_64 rng(0x5eed);
    std::set<std::string> seen;
    std::vector<std::vector<uint8_t>> kept;
    for (uint64_t i = 0; i < tries; ++i) {
      std::vector<uint8_t> input(16 + rng() % 400);
      for (auto& byte : input) byte = static_cast<uint8_t>(rng());
      bool problem = false;
      const auto found = features(target, input, problem);
      if (problem) {
        std::fprintf(stderr, "seedgen: try %llu of %s finds a problem; run the fuzzer on it\n",
                     static_cast<unsigned long long>(i), std::string(fuzz::name(target)).c_str());
        return 1;
      }
      size_t fresh = 0;
      for (const auto& f : found) fresh += seen.insert(f).second;
      if (fresh > 0) kept.push_back(std::move(input));
    }
    const auto dir = root / std::string(fuzz::name(target));
    std::filesystem::create_directories(dir);
    for (size_t i = 0; i < kept.size(); ++i) {
      std::ofstream(dir / fmt::format("seed-{:03}", i), std::ios::binary)
          .write(reinterpret_cast<const char*>(kept[i].data()), static_cast<std::streamsize>(kept[i].size()));
    }
    fmt::print("{}: {} seeds reach {} behaviours\n", fuzz::name(target), kept.size(), seen.size());
    for (const auto& f : seen) fmt::print("  {}\n", f);
  }
  return 0;
}
