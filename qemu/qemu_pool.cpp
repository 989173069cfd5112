#include "qemu_pool.hpp"

#include <algorithm>

namespace vmemcheck::qemu {
namespace {

// What a device looks like right after QEMU started: a reset for reuse must
// give exactly this again.
struct FreshState {
  DeviceState device;
  uint64_t offered = 0;
  friend bool operator==(const FreshState&, const FreshState&) = default;
};

Result<FreshState> read_state(VirtioMemPci& device) {
  auto state = device.read_state(true);
  if (!state) return state.error();
  return FreshState{std::move(*state), device.offered_features()};
}

std::string pool_key(const std::string& binary, const QemuGeometry& geometry) {
  std::string key = binary;
  for (const auto& arg : qemu_arguments(geometry)) key += " " + arg;
  return key;
}

}  // namespace

struct QemuPool::Entry {
  std::string key;
  FreshState fresh;
  uint64_t requested = 0;
  std::unique_ptr<VirtioMemPci> device;  // null while handed out
  uint64_t given_back = 0;                // clock_ when it was last given back
};

QemuPool::QemuPool(size_t capacity) : capacity_(capacity) {}
QemuPool::~QemuPool() = default;

// requested-size first: the usable region only grows on a resize, and the
// reset then shrinks it to what the start had. Whether the device is as
// fresh; Error: QEMU failed on the way.
Result<bool> QemuPool::reset_for_reuse(VirtioMemPci& device, const Entry& entry) {
  auto resized = device.resize(entry.requested);
  if (!resized) return resized.error();
  if (*resized) return false;
  if (auto reset = device.system_reset(); !reset) return reset.error();
  auto state = read_state(device);
  if (!state) return state.error();
  return *state == entry.fresh;
}

Result<std::unique_ptr<VirtioMemPci>> QemuPool::take(const std::string& binary, const QemuGeometry& geometry) {
  reset_reported_ = false;
  const std::string key = pool_key(binary, geometry);
  for (auto& entry : entries_) {
    if (entry.key != key || !entry.device) continue;
    std::unique_ptr<VirtioMemPci> device = std::move(entry.device);
    auto reset = reset_for_reuse(*device, entry);
    if (!reset && (reset.error().code == ErrorCode::QemuSanitizerReport || reset.error().code == ErrorCode::QemuCrashed)) {
      reset_reported_ = true;
      return reset.error();
    }
    if (reset && *reset) {
      ++reused_;
      return device;
    }
    ++refused_;
  }
  auto started = VirtioMemPci::start(binary, geometry);
  if (!started) return started.error();
  auto fresh = read_state(**started);
  if (!fresh) return fresh.error();
  ++started_;
  const auto known = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
  if (known == entries_.end()) {
    entries_.push_back(Entry{key, *fresh, geometry.requested_size, nullptr});
  } else if (known->fresh != *fresh) {
    return Error{"two fresh starts of the same QEMU command line differ: " + key};
  }
  return std::move(*started);
}

void QemuPool::give_back(const std::string& binary, const QemuGeometry& geometry, std::unique_ptr<VirtioMemPci> device) {
  const std::string key = pool_key(binary, geometry);
  ++clock_;
  bool kept = false;
  for (auto& entry : entries_) {
    if (entry.key == key && !entry.device) {
      entry.device = std::move(device);
      entry.given_back = clock_;
      kept = true;
      break;
    }
  }
  if (!kept) {
    auto fresh = std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == key; });
    if (fresh == entries_.end()) return;
    entries_.push_back(Entry{key, fresh->fresh, fresh->requested, std::move(device), clock_});
  }
  evict_beyond_capacity();
}

void QemuPool::clear() {
  for (auto& entry : entries_) entry.device.reset();
}

// Ends the QEMUs idle longest until at most capacity_ are idle. An entry
// keeps its fresh state (it holds no QEMU then) for the next start's check.
void QemuPool::evict_beyond_capacity() {
  for (;;) {
    const size_t idle = std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.device != nullptr; });
    if (idle <= capacity_) return;
    auto oldest = entries_.end();
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
      if (it->device && (oldest == entries_.end() || it->given_back < oldest->given_back)) oldest = it;
    }
    oldest->device.reset();
    ++evicted_;
  }
}

}  // namespace vmemcheck::qemu
