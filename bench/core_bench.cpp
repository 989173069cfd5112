// The device core's request paths on a 1 TiB device
// with 2 MiB blocks (524288 blocks) and 1024 dynamic memslots of 1 GiB, over
// the KVM slot backend and the shadow KVM model (the backend a fuzzer uses).
// Each iteration leaves the device as it found it, so figures do not drift.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>

#include "device.hpp"
#include "host_memory.hpp"
#include "kvm_slot_backend.hpp"
#include "shadow_kvm.hpp"
#include "units.hpp"

namespace vmemcheck {
namespace {

constexpr uint64_t kBase = 0x140000000;
constexpr uint64_t kBlock = 2 * MiB;
constexpr uint64_t kBlocksPerGiB = GiB / kBlock;

struct Fixture {
  ShadowKvm kvm;
  SparseHostMemory host;
  KvmSlotBackend backend{kvm, host};
  std::unique_ptr<VirtioMemDevice> device;

  explicit Fixture(MemslotMode mode) {
    DeviceConfig config;
    config.id = "vmem0";
    config.region_size = TiB;
    config.block_size = kBlock;
    config.requested_size = TiB;
    config.addr = kBase;
    config.mode = mode;
    if (mode == MemslotMode::Count) config.memslots = 1024;
    if (!backend.attach(0, config.region_size)) std::abort();
    auto created = VirtioMemDevice::create(config, 1024, 0, backend);
    if (!created || (*created)->layout().count != 1024) std::abort();
    device = std::move(*created);
  }
  void request(RequestType type, uint64_t offset, uint64_t blocks) {
    const auto response = device->handle({type, kBase + offset, static_cast<uint16_t>(blocks)});
    if (!response || response->type != ResponseType::Ack) std::abort();
    benchmark::DoNotOptimize(response);
  }
};

// A single 2 MiB block into an otherwise plugged memslot: no memslot changes.
void BM_PlugUnplugOneBlockMappedSlot(benchmark::State& state) {
  Fixture f(MemslotMode::Dynamic);
  f.request(RequestType::Plug, 0, 1);
  for (auto _ : state) {
    f.request(RequestType::Plug, kBlock, 1);
    f.request(RequestType::Unplug, kBlock, 1);
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_PlugUnplugOneBlockMappedSlot);

// A single block in an empty memslot: the plug maps it, the unplug unmaps it.
void BM_PlugUnplugOneBlockMapsSlot(benchmark::State& state) {
  Fixture f(MemslotMode::Dynamic);
  for (auto _ : state) {
    f.request(RequestType::Plug, 512 * GiB, 1);
    f.request(RequestType::Unplug, 512 * GiB, 1);
  }
  state.SetItemsProcessed(state.iterations() * 2);
}
BENCHMARK(BM_PlugUnplugOneBlockMapsSlot);

// 1 GiB (512 blocks, one memslot) plugged and unplugged.
void BM_PlugUnplugOneGiB(benchmark::State& state) {
  Fixture f(MemslotMode::Dynamic);
  for (auto _ : state) {
    f.request(RequestType::Plug, 7 * GiB, kBlocksPerGiB);
    f.request(RequestType::Unplug, 7 * GiB, kBlocksPerGiB);
  }
  state.SetBytesProcessed(state.iterations() * 2 * GiB);
}
BENCHMARK(BM_PlugUnplugOneGiB);

// UNPLUG_ALL with `range(0)` GiB plugged (one block per 2 MiB, 1 GiB per
// memslot), re-plugged outside the timing.
void BM_UnplugAll(benchmark::State& state) {
  Fixture f(MemslotMode::Dynamic);
  const auto gib = static_cast<uint64_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    for (uint64_t i = 0; i < gib; ++i) f.request(RequestType::Plug, i * GiB, kBlocksPerGiB);
    state.ResumeTiming();
    f.request(RequestType::UnplugAll, 0, 0);
  }
}
BENCHMARK(BM_UnplugAll)->Arg(1)->Arg(64)->Arg(1024)->Unit(benchmark::kMicrosecond);

// STATE over 65535 blocks (128 GiB) of a half-plugged device: MIXED.
void BM_StateLargeRange(benchmark::State& state) {
  Fixture f(MemslotMode::Dynamic);
  for (uint64_t i = 0; i < 1024; i += 2) f.request(RequestType::Plug, i * GiB, kBlocksPerGiB);
  for (auto _ : state) {
    const auto response = f.device->handle({RequestType::State, kBase + 64 * GiB, 65535});
    if (!response || response->state != BlockState::Mixed) std::abort();
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_StateLargeRange);

// STATE of one block: the per-request floor.
void BM_StateOneBlock(benchmark::State& state) {
  Fixture f(MemslotMode::Dynamic);
  for (auto _ : state) {
    const auto response = f.device->handle({RequestType::State, kBase + 300 * GiB, 1});
    benchmark::DoNotOptimize(response);
  }
}
BENCHMARK(BM_StateOneBlock);

}  // namespace
}  // namespace vmemcheck

BENCHMARK_MAIN();
