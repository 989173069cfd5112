#include "fuzz_decoder.hpp"

#include <fmt/format.h>

#include "random_scenario.hpp"
#include "units.hpp"

namespace vmemcheck::fuzz {
namespace {

using namespace scenario;

// Choices read from the input: as few little-endian bytes as the range
// needs, so a mutated byte changes one choice. Past the end: zeros.
class ByteChoices final : public Choices {
 public:
  explicit ByteChoices(std::span<const uint8_t> bytes) : bytes_(bytes) {}
  uint64_t below(uint64_t n) override {
    if (n <= 1) return 0;
    uint64_t value = 0;
    for (uint64_t range = n - 1, shift = 0; range != 0; range >>= 8, shift += 8) {
      if (position_ < bytes_.size()) value |= uint64_t{bytes_[position_]} << shift;
      ++position_;
    }
    // The same value as the modulo; chance(2^k) asks most, and a division costs.
    return (n & (n - 1)) == 0 ? value & (n - 1) : value % n;
  }
  bool exhausted() const { return position_ >= bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  size_t position_ = 0;
};

template <size_t N>
std::vector<uint8_t> bytes_of(const std::array<uint8_t, N>& array) {
  return {array.begin(), array.end()};
}

std::vector<uint8_t> le16(uint16_t value) { return {static_cast<uint8_t>(value), static_cast<uint8_t>(value >> 8)}; }

// Operations the random generator makes seldom or never: hot-remove, vhost,
// feature negotiation, guest-initiated resets, views, and a device added
// late whose attach or realize a fault may hit.
void add_rare_op(ScenarioBuilder& b) {
  const auto& d = b.pick(b.shapes());
  switch (b.below(6)) {
    case 0: b.add_remove(d); break;
    case 1: b.add(AddVhost{{fmt::format("vhost{}", b.below(4)), static_cast<uint32_t>(b.below(1024))}}); break;
    case 2: b.add(NegotiateFeatures{d.id, b.driver_features()}); break;
    case 3: b.add(VirtioReset{d.id, b.chance(2)}); break;
    case 4:
      b.add(InjectFault{b.chance(2) ? FaultKind::Attach : FaultKind::Map, std::nullopt, 0});
      b.add_device(fmt::format("vmem{}", 3 + b.below(2)));
      break;
    default: b.add(b.chance(2) ? Op{ShowMtree{}} : Op{ShowSlots{}}); break;
  }
}

void decode_ops(ScenarioBuilder& b, ByteChoices& in) {
  b.add_machine();
  const uint64_t devices = 1 + b.below(3);
  for (uint64_t i = 0; i < devices; ++i) b.add_device(fmt::format("vmem{}", i));
  for (uint64_t i = 0; i < kMaxOps && !in.exhausted(); ++i) {
    if (b.chance(16)) add_rare_op(b);
    else b.add_op();
  }
}

// The driver side of the virtqueue target: descriptors, requests, the
// available ring, written as pokes, mostly well-formed, sometimes not.
class Driver {
 public:
  Driver(ScenarioBuilder& b) : b_(b) {}

  void setup_queue() {
    QueueLayout layout{static_cast<uint16_t>(uint16_t{1} << b_.below(8)), kQueueDesc, kQueueAvail, kQueueUsed};
    if (b_.chance(16)) layout.size = static_cast<uint16_t>(b_.below(65536));
    if (b_.chance(16)) layout.desc = misplaced_area(16);
    if (b_.chance(16)) layout.avail = misplaced_area(2);
    if (b_.chance(16)) layout.used = misplaced_area(4);
    size_ = layout.size == 0 ? 1 : layout.size;
    avail_idx_ = 0;
    b_.add(SetupQueue{"vmem0", layout});
  }

  // A queue area where the driver errs: anywhere in the first pages (maybe
  // unaligned), at the start of device memory (unplugged: not RAM; it may
  // start in the hole below), or at the top of the address space, where it
  // wraps.
  uint64_t misplaced_area(uint64_t alignment) {
    switch (b_.below(3)) {
      case 0: return b_.below(0x20000);
      case 1: return kQueueDeviceAddr - 4 * alignment + alignment * b_.below(64);
      default: return (~uint64_t{0} - b_.below(0x1000)) & ~(alignment - 1);
    }
  }

  uint64_t buffer_address() {
    switch (b_.below(8)) {
      case 0: case 1: return kQueueRequests + 32 * b_.below(4);
      case 2: case 3: return kQueueResponses + 16 * b_.below(4);
      case 4: return kQueueTables + 256 * b_.below(4);
      case 5: return kQueueDeviceAddr + b_.below(4) * 2 * MiB + 8 * b_.below(8);  // device memory
      case 6: return ~uint64_t{0} - b_.below(64);                                   // wraps
      default: return b_.below(0x20000);
    }
  }

  uint32_t length() {
    switch (b_.below(8)) {
      case 0: case 1: return kRequestSize;
      case 2: case 3: return kResponseSize;
      case 4: return static_cast<uint32_t>(b_.below(64));
      case 5: return static_cast<uint32_t>(kDescriptorSize * b_.below(9));  // indirect tables
      case 6: return UINT32_MAX - static_cast<uint32_t>(b_.below(16));
      default: return static_cast<uint32_t>(b_.below(uint64_t{1} << 32));
    }
  }

  void write_descriptor() {
    const Descriptor d{buffer_address(), length(), static_cast<uint16_t>(b_.below(8)),
                       static_cast<uint16_t>(b_.chance(16) ? b_.below(65536) : b_.below(size_ + 1))};
    const uint64_t table = b_.chance(4) ? kQueueTables + 256 * b_.below(4) : kQueueDesc;
    b_.add(Poke{table + kDescriptorSize * b_.below(size_ + 1), bytes_of(encode_descriptor(d))});
  }

  void write_request() {
    const auto& d = b_.shapes().front();
    const Address a = b_.address(d);
    const uint64_t addr = a.relative ? kQueueDeviceAddr + a.value : a.value;
    const auto type = static_cast<uint16_t>(b_.chance(8) ? b_.below(65536) : b_.below(4));
    DecodedRequest raw{type, addr, b_.nb_blocks(d)};
    auto bytes = encode_request({RequestType::Plug, raw.addr, raw.nb_blocks});
    store_le(bytes, 0, 2, raw.raw_type);
    b_.add(Poke{kQueueRequests + 32 * b_.below(4), bytes_of(bytes)});
  }

  void offer(uint16_t head) {
    b_.add(Poke{kQueueAvail + avail_ring_offset(static_cast<uint16_t>(avail_idx_ % size_)), le16(head)});
    avail_idx_ = static_cast<uint16_t>(avail_idx_ + (b_.chance(32) ? b_.below(65536) : 1));
    b_.add(Poke{kQueueAvail + avail_idx_offset(), le16(avail_idx_)});
  }

  // A well-formed request chain at descriptors (2i, 2i+1), offered and kicked:
  // reaches deep device states in few bytes.
  void good_chain() {
    const auto i = static_cast<uint16_t>(b_.below((size_ + 1) / 2));
    const uint16_t head = static_cast<uint16_t>(2 * i % size_);
    const auto next = static_cast<uint16_t>((head + 1) % size_);
    const uint64_t request = kQueueRequests + 32 * (i % 4);
    write_request_at(request);
    b_.add(Poke{kQueueDesc + kDescriptorSize * head,
                bytes_of(encode_descriptor({request, kRequestSize, kDescFlagNext, next}))});
    b_.add(Poke{kQueueDesc + kDescriptorSize * next,
                bytes_of(encode_descriptor({kQueueResponses + 16 * (i % 4), kResponseSize, kDescFlagWrite, 0}))});
    offer(head);
    b_.add(Kick{"vmem0"});
  }

  void random_poke() {
    std::vector<uint8_t> bytes(1 + b_.below(16));
    for (auto& byte : bytes) byte = static_cast<uint8_t>(b_.below(256));
    b_.add(Poke{kQueueDesc + b_.below(0x5000), std::move(bytes)});
  }

  void step() {
    switch (b_.below(16)) {
      case 0: case 1: case 2: write_descriptor(); break;
      case 3: case 4: write_request(); break;
      case 5: case 6: offer(static_cast<uint16_t>(b_.chance(16) ? b_.below(65536) : b_.below(size_))); break;
      case 7: case 8: b_.add(Kick{"vmem0"}); break;
      case 9:
        b_.add(VirtioReset{"vmem0"});
        setup_queue();
        break;
      case 10: random_poke(); break;
      case 11: b_.add_op(); break;
      default: good_chain(); break;
    }
  }

 private:
  void write_request_at(uint64_t gpa) {
    const auto& d = b_.shapes().front();
    const Address a = b_.address(d);
    const auto type = static_cast<RequestType>(b_.below(4));
    const Request r{type, a.relative ? kQueueDeviceAddr + a.value : a.value, b_.nb_blocks(d)};
    b_.add(Poke{gpa, bytes_of(encode_request(r))});
  }

  ScenarioBuilder& b_;
  uint16_t size_ = 1;
  uint16_t avail_idx_ = 0;
};

void decode_virtqueue(ScenarioBuilder& b, ByteChoices& in) {
  b.add(ConfigureMachine{});
  b.add_device("vmem0").config.addr = kQueueDeviceAddr;
  Driver driver(b);
  driver.setup_queue();
  for (uint64_t i = 0; i < kMaxOps && !in.exhausted(); ++i) driver.step();
  b.add(Kick{"vmem0"});
}

// Geometry over the whole range: 1 MiB..1 GiB blocks, regions up to 16 Ki
// blocks (16 TiB), small and large KVM limits, vhost backends, devices
// coming and going.
void decode_layout(ScenarioBuilder& b, ByteChoices& in) {
  ConfigureMachine machine;
  machine.machine.smm = b.chance(4);
  machine.machine.device_memory_size = (uint64_t{1} << (30 + b.below(17)));  // 1 GiB .. 64 TiB
  // Below the safe 509, just above it (where other consumers' memslots can
  // leave fewer free than the soft limit), or anywhere up to KVM's maximum.
  switch (b.below(3)) {
    case 0: machine.kvm.max_memslots = static_cast<uint32_t>(1 + b.below(600)); break;
    case 1: machine.kvm.max_memslots = static_cast<uint32_t>(509 + b.below(128)); break;
    default: machine.kvm.max_memslots = static_cast<uint32_t>(509 + b.below(32767 - 508)); break;
  }
  machine.machine.reserved_memslots =
      static_cast<uint32_t>(b.chance(2) ? b.below(64) : b.below(std::min<uint64_t>(machine.kvm.max_memslots, 600)));
  b.add(machine);
  uint64_t next_id = 0;
  std::vector<std::string> ids;
  const auto modes = std::vector{MemslotMode::Multiple, MemslotMode::Dynamic, MemslotMode::Multiple,
                                 MemslotMode::Dynamic, MemslotMode::Count,    MemslotMode::Fixed,
                                 MemslotMode::Static};
  for (uint64_t i = 0; i < kMaxOps / 2 && !in.exhausted(); ++i) {
    const uint64_t choice = b.below(8);
    if (choice < 3 || ids.empty()) {
      AddDevice d;
      d.config.id = fmt::format("vmem{}", next_id++);
      d.config.memdev = "";
      d.config.block_size = MiB << b.below(11);
      d.config.region_size = d.config.block_size * (1 + b.below(16384));
      d.config.requested_size = b.chance(2) ? 0 : d.config.block_size * b.below(d.config.region_size / d.config.block_size + 1);
      d.config.mode = b.pick(modes);
      d.config.unplugged_inaccessible = d.config.mode == MemslotMode::Multiple ? b.chance(2) : true;
      if (d.config.mode == MemslotMode::Count) d.config.memslots = static_cast<uint32_t>(1 + b.below(1024));
      if (d.config.mode == MemslotMode::Fixed) d.config.fixed_slot_size = d.config.block_size << b.below(8);
      ids.push_back(d.config.id);
      b.add(d);
      continue;
    }
    const std::string& id = b.pick(ids);
    switch (choice) {
      case 3: b.add(AddVhost{{fmt::format("vhost{}", b.below(4)), static_cast<uint32_t>(b.below(1024))}}); break;
      case 4:
        b.add(Resize{id, 0});
        b.add(GuestRequest{id, RequestType::UnplugAll, {}, 0});
        b.add(RemoveDevice{id});
        break;
      case 5: b.add(GuestRequest{id, RequestType::Plug, {b.below(4) * GiB, true}, static_cast<uint16_t>(1 + b.below(64))}); break;
      case 6: b.add(Migrate{id, {{"mode", std::string(name(b.pick(modes)))}}}); break;
      default: b.add(GuestRequest{id, RequestType::UnplugAll, {}, 0}); break;
    }
  }
}

}  // namespace

std::string_view name(Target target) {
  switch (target) {
    case Target::Ops: return "ops";
    case Target::Virtqueue: return "virtqueue";
    case Target::Layout: return "layout";
  }
  return "?";
}

std::optional<Target> parse_target(std::string_view text) {
  for (Target t : kTargets) {
    if (name(t) == text) return t;
  }
  return std::nullopt;
}

Scenario decode(Target target, std::span<const uint8_t> bytes) {
  ByteChoices in(bytes);
  ScenarioBuilder builder(in, {kMaxOps, 4096});
  switch (target) {
    case Target::Ops: decode_ops(builder, in); break;
    case Target::Virtqueue: decode_virtqueue(builder, in); break;
    case Target::Layout: decode_layout(builder, in); break;
  }
  return builder.take(fmt::format("<{} input>", name(target)));
}

}  // namespace vmemcheck::fuzz
