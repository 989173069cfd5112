// The fuzz targets' exec/s without a fuzzer around it: each iteration runs
// one input of corpus/<target>/ through the fuzz targets' check
// (fuzz/check.cpp: decode, run, compare with the reference model and check
// the invariants after every step), cycling through the corpus. items/s is
// executions per second on one core with no coverage instrumentation, steps
// the checked steps per second (model and invariants after each); the
// fuzzers' own figures (libFuzzer, AFL++) come from scripts/campaign.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "check.hpp"
#include "scenario_runner.hpp"

namespace vmemcheck::fuzz {
namespace {

std::vector<std::vector<uint8_t>> load_corpus(Target target) {
  std::vector<std::vector<uint8_t>> inputs;
  const std::filesystem::path dir = std::filesystem::path(VMEMCHECK_CORPUS_DIR) / std::string(name(target));
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    inputs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return inputs;
}

void BM_CorpusExecution(benchmark::State& state, Target target) {
  const auto inputs = load_corpus(target);
  if (inputs.empty()) {
    state.SkipWithError("empty corpus");
    return;
  }
  std::vector<size_t> steps;  // each input's decoded steps, every one checked
  for (const auto& input : inputs) steps.push_back(decode(target, input).steps.size());
  size_t next = 0;
  double steps_run = 0;
  for (auto _ : state) {
    run_checked(target, inputs[next]);
    steps_run += static_cast<double>(steps[next]);
    next = (next + 1) % inputs.size();
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["inputs"] = static_cast<double>(inputs.size());
  state.counters["steps"] = benchmark::Counter(steps_run, benchmark::Counter::kIsRate);
}
BENCHMARK_CAPTURE(BM_CorpusExecution, ops, Target::Ops);
BENCHMARK_CAPTURE(BM_CorpusExecution, virtqueue, Target::Virtqueue);
BENCHMARK_CAPTURE(BM_CorpusExecution, layout, Target::Layout);

// The same inputs with neither the model comparison nor the invariants:
// decoding, the machine, the device, its KVM backend and the shadow alone.
// What checking after every step costs is the difference to the above.
void BM_CorpusUnchecked(benchmark::State& state, Target target) {
  const auto inputs = load_corpus(target);
  if (inputs.empty()) {
    state.SkipWithError("empty corpus");
    return;
  }
  scenario::RunOptions options;
  options.check_model = false;
  options.check_invariants = false;
  options.describe_steps = false;
  size_t next = 0;
  for (auto _ : state) {
    const scenario::Scenario s = decode(target, inputs[next]);
    scenario::Runner runner(options);
    for (const scenario::Step& step : s.steps) benchmark::DoNotOptimize(runner.step(step));
    next = (next + 1) % inputs.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_CorpusUnchecked, ops, Target::Ops);

// The floor: an empty input (the default machine, no device, no step).
void BM_EmptyInput(benchmark::State& state) {
  for (auto _ : state) run_checked(Target::Ops, {});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EmptyInput);

}  // namespace
}  // namespace vmemcheck::fuzz

BENCHMARK_MAIN();
