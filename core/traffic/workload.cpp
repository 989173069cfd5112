#include "workload.hpp"

#include <algorithm>
#include <random>

#include "units.hpp"

namespace vmemcheck {
namespace {

constexpr struct {
  WorkloadKind kind;
  std::string_view name;
} kNames[] = {
    {WorkloadKind::GrowShrink, "grow-shrink"},   {WorkloadKind::Sawtooth, "sawtooth"},
    {WorkloadKind::RandomWalk, "random-walk"},   {WorkloadKind::FragmentedUnplug, "fragmented-unplug"},
    {WorkloadKind::RebootMidway, "reboot"},      {WorkloadKind::MigrateMidway, "migration"},
};

// Ticks the host waits after a size change: long enough for the driver
// (8 requests of up to 128 MiB, so up to 1 GiB, per tick) to follow, and some.
constexpr uint64_t kSettleTicks = 40;
uint64_t ticks_to_follow(uint64_t from, uint64_t to) {
  const uint64_t delta = from > to ? from - to : to - from;
  return kSettleTicks + delta / GiB + delta / GiB / 4;
}

class Schedule {
 public:
  Schedule(uint64_t block, uint64_t region) : block_(block), region_(region) {}
  void resize(uint64_t size) {
    size = std::min(size / block_ * block_, region_);
    events_.push_back({tick_, HostEvent::Kind::Resize, size});
    tick_ += ticks_to_follow(requested_, size);
    requested_ = size;
  }
  void at_once(HostEvent::Kind kind) { events_.push_back({tick_, kind, 0}); }
  void wait(uint64_t ticks) { tick_ += ticks; }
  Workload done() { return {std::move(events_), tick_ + kSettleTicks, {}}; }

 private:
  uint64_t block_, region_;
  uint64_t tick_ = 0;
  uint64_t requested_ = 0;
  std::vector<HostEvent> events_;
};

}  // namespace

std::string_view name(WorkloadKind kind) {
  for (const auto& entry : kNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "?";
}

std::optional<WorkloadKind> parse_workload(std::string_view text) {
  for (const auto& entry : kNames) {
    if (entry.name == text) return entry.kind;
  }
  return std::nullopt;
}

std::vector<WorkloadKind> all_workloads() {
  std::vector<WorkloadKind> kinds;
  for (const auto& entry : kNames) kinds.push_back(entry.kind);
  return kinds;
}

Workload make_workload(WorkloadKind kind, const WorkloadGeometry& geometry) {
  const uint64_t peak = geometry.peak ? geometry.peak : geometry.region_size / 4;
  const uint64_t step = std::max(peak / 8, geometry.block_size);
  Schedule s(geometry.block_size, geometry.region_size);
  switch (kind) {
    case WorkloadKind::GrowShrink:  // 0 -> peak in 8 steps, and back
      for (uint64_t size = step; size <= peak; size += step) s.resize(size);
      for (uint64_t size = peak; size >= step; size -= step) s.resize(size - step);
      break;
    case WorkloadKind::Sawtooth:  // three teeth between a quarter and all of peak
      for (int tooth = 0; tooth < 3; ++tooth) {
        s.resize(peak);
        s.resize(peak / 4);
      }
      s.resize(0);
      break;
    case WorkloadKind::RandomWalk: {
      std::mt19937_64 rng(geometry.seed);
      uint64_t size = 0;
      for (int i = 0; i < 24; ++i) {
        const int64_t delta = static_cast<int64_t>(rng() % 5) - 2;  // -2 .. +2 steps
        const int64_t next = static_cast<int64_t>(size) + delta * static_cast<int64_t>(step);
        size = static_cast<uint64_t>(std::clamp<int64_t>(next, 0, static_cast<int64_t>(peak)));
        s.resize(size);
      }
      s.resize(0);
      break;
    }
    case WorkloadKind::FragmentedUnplug: {  // grow, then shrink while every other memory block is pinned
      s.resize(peak);
      s.resize(0);
      Workload w = s.done();
      w.unremovable = [](uint64_t memory_block) { return memory_block % 2 == 0; };
      return w;
    }
    case WorkloadKind::RebootMidway:  // grow, reboot (everything unplugged), the guest plugs again
      s.resize(peak / 2);
      s.resize(peak);
      s.at_once(HostEvent::Kind::Reboot);
      s.wait(kSettleTicks);
      s.resize(peak / 2);
      s.resize(0);
      break;
    case WorkloadKind::MigrateMidway:  // a migration (BUSY for a while) during growth
      s.resize(peak / 2);
      s.at_once(HostEvent::Kind::MigrationStart);
      s.resize(peak);
      s.at_once(HostEvent::Kind::MigrationEnd);
      s.wait(ticks_to_follow(peak / 2, peak));  // the driver catches up after its backoff
      s.resize(0);
      break;
  }
  return s.done();
}

}  // namespace vmemcheck
