#include "memslot_policy.hpp"

#include <algorithm>

#include "decision.hpp"

namespace vmemcheck {

uint64_t MemslotLayout::offset(uint64_t index) const { return decision::slot_offset<Word>(slot_size, index); }

uint64_t MemslotLayout::length(uint64_t index) const {
  return decision::slot_length<Word>(region_size, slot_size, index);
}

namespace {

MemslotLayout from(uint64_t region_size, decision::Layout<Word> layout) {
  return {region_size, layout.slot_size, layout.count};
}

// QEMU's behaviour before the series: one memslot for the whole region.
class StaticPolicy final : public MemslotPolicy {
 public:
  bool decides_automatically() const override { return false; }
  MemslotLayout layout(uint64_t region, uint64_t, uint64_t) const override { return {region, region, 1}; }
  MapRule map_rule() const override { return MapRule::WholeRegion; }
};

// v1 (seed 002): the user picks the count; slots follow the usable region.
class CountPolicy final : public MemslotPolicy {
 public:
  explicit CountPolicy(uint32_t count) : count_(count) {}
  bool decides_automatically() const override { return false; }
  MemslotLayout layout(uint64_t region, uint64_t block, uint64_t) const override {
    return from(region, decision::count_layout<Word>(
                            region, decision::count_layout_align<Word>(block, kMinCountMemslotAlign), count_));
  }
  MapRule map_rule() const override { return MapRule::UsableRegion; }

 private:
  uint32_t count_;
};

// v2 (seed 001): automatic count; what is mapped depends on unplugged-inaccessible.
class MultiplePolicy final : public MemslotPolicy {
 public:
  explicit MultiplePolicy(bool unplugged_inaccessible) : unplugged_inaccessible_(unplugged_inaccessible) {}
  bool decides_automatically() const override { return true; }
  MemslotLayout layout(uint64_t region, uint64_t block, uint64_t limit) const override {
    return from(region, decision::auto_layout<Word>(region, block, limit, kMinAutoMemslotSize));
  }
  MapRule map_rule() const override {
    return unplugged_inaccessible_ ? MapRule::PluggedBlocks : MapRule::UsableRegion;
  }

 private:
  bool unplugged_inaccessible_;
};

// v4 (seeds 000/003/004, the merged design).
class DynamicPolicy final : public MemslotPolicy {
 public:
  bool decides_automatically() const override { return true; }
  MemslotLayout layout(uint64_t region, uint64_t block, uint64_t limit) const override {
    return from(region, decision::auto_layout<Word>(region, block, limit, kMinAutoMemslotSize));
  }
  MapRule map_rule() const override { return MapRule::PluggedBlocks; }
};

// Firecracker: fixed-size slots, mapped while any block in them is plugged.
class FixedPolicy final : public MemslotPolicy {
 public:
  explicit FixedPolicy(uint64_t slot_size) : slot_size_(slot_size) {}
  bool decides_automatically() const override { return false; }
  MemslotLayout layout(uint64_t region, uint64_t, uint64_t) const override {
    return from(region, decision::fixed_layout<Word>(region, slot_size_));
  }
  MapRule map_rule() const override { return MapRule::PluggedBlocks; }

 private:
  uint64_t slot_size_;
};

}  // namespace

std::unique_ptr<MemslotPolicy> make_memslot_policy(const DeviceConfig& config) {
  switch (config.mode) {
    case MemslotMode::Static: return std::make_unique<StaticPolicy>();
    case MemslotMode::Count: return std::make_unique<CountPolicy>(config.memslots);
    case MemslotMode::Multiple: return std::make_unique<MultiplePolicy>(config.unplugged_inaccessible);
    case MemslotMode::Dynamic: return std::make_unique<DynamicPolicy>();
    case MemslotMode::Fixed: return std::make_unique<FixedPolicy>(config.fixed_slot_size);
  }
  return std::make_unique<StaticPolicy>();
}

}  // namespace vmemcheck
