#include "kvm_calls.hpp"

#include <algorithm>
#include <fstream>
#include <set>

#include <fmt/format.h>

namespace vmemcheck::qemu {
namespace {

// The number after `key` in `line` (base 16 after "0x"), if the key is there.
std::optional<uint64_t> field(const std::string& line, const std::string& key, int base) {
  const auto at = line.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* start = line.c_str() + at + key.size();
  char* end = nullptr;
  const unsigned long long value = std::strtoull(start, &end, base);
  if (end == start) return std::nullopt;
  return value;
}

// The shadow KVM, every call recorded on its way.
class RecordingVm final : public KvmVm {
 public:
  RecordingVm(KvmVm& inner, std::vector<KvmCall>& calls, bool plant, bool& planted)
      : inner_(inner), calls_(calls), plant_(plant), planted_(planted) {}
  int set_user_memory_region(const KvmRegion& region) override {
    KvmCall call = kvm_call(region);
    if (plant_ && !planted_ && call.size > 2 * MiB) {
      call.size -= 2 * MiB;
      planted_ = true;
    }
    calls_.push_back(call);
    return inner_.set_user_memory_region(region);
  }
  uint32_t max_memslots() const override { return inner_.max_memslots(); }
  uint32_t address_spaces() const override { return inner_.address_spaces(); }

 private:
  static constexpr uint64_t MiB = uint64_t{1} << 20;
  KvmVm& inner_;
  std::vector<KvmCall>& calls_;
  bool plant_;
  bool& planted_;
};

class RecordingSession final : public PlatformSession {
 public:
  RecordingSession(std::unique_ptr<PlatformSession> inner, std::vector<KvmCall>& calls, bool plant, bool& planted)
      : inner_(std::move(inner)), vm_(inner_->vm(), calls, plant, planted) {}
  KvmVm& vm() override { return vm_; }
  HostMemory& host_memory() override { return inner_->host_memory(); }

 private:
  std::unique_ptr<PlatformSession> inner_;
  RecordingVm vm_;
};

// Slot-id pairings per address space, QEMU's id to the core's and back.
struct Pairing {
  std::map<uint32_t, std::map<uint32_t, uint32_t>> qemu_to_core, core_to_qemu;

  // Why the ids of this pair of calls are inconsistent with the pairing, or
  // empty; applies the pair when consistent.
  std::string pair(const KvmCall& q, const KvmCall& c) {
    auto& forward = qemu_to_core[q.address_space];
    auto& backward = core_to_qemu[c.address_space];
    const auto f = forward.find(q.slot);
    const auto b = backward.find(c.slot);
    if (f != forward.end() && f->second != c.slot) {
      return fmt::format("QEMU's slot {} is the core's slot {}, not {}", q.slot, f->second, c.slot);
    }
    if (b != backward.end() && b->second != q.slot) {
      return fmt::format("the core's slot {} is QEMU's slot {}, not {}", c.slot, b->second, q.slot);
    }
    if (q.size == 0) {
      if (f == forward.end()) return fmt::format("QEMU deletes slot {}, which it never mapped here", q.slot);
      forward.erase(f);
      backward.erase(b);
    } else {
      forward[q.slot] = c.slot;
      backward[c.slot] = q.slot;
    }
    return {};
  }
};

std::string column(const std::optional<KvmCall>& call) { return call ? describe(*call) : std::string("-"); }

}  // namespace

KvmCall kvm_call(const KvmRegion& region) {
  return {region.slot >> 16, region.slot & 0xffff, region.flags, region.guest_phys_addr, region.memory_size};
}

std::optional<KvmCall> parse_kvm_trace_line(const std::string& line) {
  if (line.find("kvm_set_user_memory ") == std::string::npos) return std::nullopt;
  const auto as = field(line, "AddrSpace#", 10);
  const auto slot = field(line, "Slot#", 10);
  const auto flags = field(line, "flags=0x", 16);
  const auto gpa = field(line, "gpa=0x", 16);
  const auto size = field(line, "size=0x", 16);
  if (!slot || !flags || !gpa || !size) return std::nullopt;
  // QEMU 7.2 prints no AddrSpace#: its Slot# is KVM's slot, the address space in bits 16..31.
  if (!as) return KvmCall{static_cast<uint32_t>(*slot >> 16), static_cast<uint32_t>(*slot & 0xffff),
                          static_cast<uint32_t>(*flags), *gpa, *size};
  return KvmCall{static_cast<uint32_t>(*as), static_cast<uint32_t>(*slot), static_cast<uint32_t>(*flags), *gpa, *size};
}

std::string describe(const KvmCall& call) {
  return fmt::format("AS{} #{:<3} {} gpa={:#x} size={:#x} flags={:#x}", call.address_space, call.slot,
                     call.size ? "map   " : "delete", call.gpa, call.size, call.flags);
}

Result<std::unique_ptr<PlatformSession>> RecordingPlatform::start(ShadowKvm& shadow, const MachineConfig& machine) {
  auto inner = shadow_platform().start(shadow, machine);
  if (!inner) return inner.error();
  return std::unique_ptr<PlatformSession>(
      std::make_unique<RecordingSession>(std::move(*inner), calls_, plant_, planted_));
}

std::vector<KvmCall> KvmTraceReader::take_calls() {
  std::ifstream in(path_, std::ios::binary);
  if (!in) return {};
  in.seekg(static_cast<std::streamoff>(offset_));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  offset_ += text.size();
  partial_ += text;
  std::vector<KvmCall> calls;
  size_t start = 0;
  for (size_t end = partial_.find('\n'); end != std::string::npos; end = partial_.find('\n', start)) {
    if (auto call = parse_kvm_trace_line(partial_.substr(start, end - start))) calls.push_back(*call);
    start = end + 1;
  }
  partial_.erase(0, start);
  all_.insert(all_.end(), calls.begin(), calls.end());
  return calls;
}

KvmComparison compare_kvm_calls(const std::vector<KvmCallGroup>& groups) {
  KvmComparison result;
  Pairing pairing;
  result.listing += fmt::format("      {:<62} {}\n", "QEMU (kvm_set_user_memory)", "core (KvmSlotBackend)");
  for (const KvmCallGroup& group : groups) {
    result.qemu_calls += group.qemu.size();
    result.core_calls += group.core.size();
    if (group.qemu.empty() && group.core.empty()) continue;
    result.listing += group.ops;
    std::set<uint32_t> spaces;
    for (const auto& call : group.qemu) spaces.insert(call.address_space);
    for (const auto& call : group.core) spaces.insert(call.address_space);
    for (const uint32_t space : spaces) {
      std::vector<KvmCall> q, c;
      std::copy_if(group.qemu.begin(), group.qemu.end(), std::back_inserter(q),
                   [&](const KvmCall& call) { return call.address_space == space; });
      std::copy_if(group.core.begin(), group.core.end(), std::back_inserter(c),
                   [&](const KvmCall& call) { return call.address_space == space; });
      for (size_t i = 0; i < std::max(q.size(), c.size()); ++i) {
        const std::optional<KvmCall> qc = i < q.size() ? std::optional(q[i]) : std::nullopt;
        const std::optional<KvmCall> cc = i < c.size() ? std::optional(c[i]) : std::nullopt;
        std::string why;
        if (!qc) why = "the core makes a call QEMU does not";
        else if (!cc) why = "QEMU makes a call the core does not";
        else if (qc->gpa != cc->gpa || qc->size != cc->size || qc->flags != cc->flags) why = "gpa, size or flags differ";
        else why = pairing.pair(*qc, *cc);
        ++result.compared;
        std::string line = fmt::format("    {} {:<62} {:<62}{}", why.empty() ? '=' : '!', column(qc), column(cc),
                                       why.empty() ? "" : "  <- " + why);
        line.erase(line.find_last_not_of(' ') + 1);
        result.listing += line + "\n";
        if (!why.empty()) {
          ++result.differences;
          result.difference_lines.push_back(fmt::format("{}QEMU {} | core {}: {}", group.ops, column(qc), column(cc), why));
        }
      }
    }
  }
  return result;
}

}  // namespace vmemcheck::qemu
