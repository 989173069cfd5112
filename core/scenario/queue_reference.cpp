#include "queue_reference.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "outcome.hpp"

namespace vmemcheck::scenario {
namespace {

// The device behind the reference queue: a copy of the reference model, so
// the prediction leaves the runner's model to answer the device's own kick.
// A request that can plug or unplug changes device memory (populate,
// discard, memslots mapped or not), which the overlay does not model.
class ModelAnswerer final : public ChainAnswerer {
 public:
  ModelAnswerer(const ReferenceModel& model, OverlayMemory& overlay, uint64_t start, uint64_t size)
      : model_(model), overlay_(overlay), start_(start), size_(size) {}
  bool needs_reset() const override { return model_.needs_reset(); }
  std::optional<Response> answer(std::span<const uint8_t> request, uint64_t readable, uint64_t writable) override {
    const auto type = static_cast<uint16_t>(request[0] | request[1] << 8);
    uint64_t addr = 0;
    for (size_t i = 16; i-- > 8;) addr = addr << 8 | request[i];
    const auto nb_blocks = static_cast<uint16_t>(request[16] | request[17] << 8);
    const auto response = model_.raw_request(type, addr, nb_blocks, readable, writable);
    if (response && type <= static_cast<uint16_t>(RequestType::UnplugAll)) overlay_.distrust(start_, size_);
    return response;
  }

 private:
  ReferenceModel model_;
  OverlayMemory& overlay_;
  uint64_t start_;
  uint64_t size_;
};

std::string fault_text(const std::optional<std::string>& fault) { return fault ? "faulted: " + *fault : "no fault"; }
std::string fault_text(const std::optional<ChainFault>& fault) {
  return fault ? fmt::format("faulted: {}", name(*fault)) : "no fault";
}

DecodedRequest decoded(const std::vector<uint8_t>& bytes) {
  if (bytes.empty()) return {};
  DecodedRequest r;
  r.raw_type = static_cast<uint16_t>(bytes[0] | bytes[1] << 8);
  for (size_t i = 16; i-- > 8;) r.addr = r.addr << 8 | bytes[i];
  r.nb_blocks = static_cast<uint16_t>(bytes[16] | bytes[17] << 8);
  return r;
}

bool same_buffers(const std::vector<Segment>& core, const std::vector<ReferenceBuffer>& reference) {
  return std::ranges::equal(core, reference,
                            [](const Segment& s, const ReferenceBuffer& b) { return s.gpa == b.gpa && s.len == b.len; });
}

void compare_chain(const ServicedChain& core, const ReferenceChain& ref, std::vector<std::string>& problems) {
  const DecodedRequest request = decoded(ref.request);
  const bool same = core.head == ref.head && core.readable_bytes == ref.readable_bytes &&
                    core.writable_bytes == ref.writable_bytes && core.request.raw_type == request.raw_type &&
                    core.request.addr == request.addr && core.request.nb_blocks == request.nb_blocks &&
                    same_buffers(core.writable, ref.writable) && core.response == ref.response;
  if (same) return;
  const bool is_state = request.raw_type == static_cast<uint16_t>(RequestType::State);
  problems.push_back(fmt::format(
      "reference virtqueue: chain at head {} (reference head {}): core read {} and {} bytes, request type {} addr "
      "{:#x} nb {}, {} response buffers, answered {}; reference {} and {}, type {} addr {:#x} nb {}, {} buffers, {}",
      core.head, ref.head, core.readable_bytes, core.writable_bytes, core.request.raw_type, core.request.addr,
      core.request.nb_blocks, core.writable.size(), to_text(ChainAnswer{core.response, is_state}), ref.readable_bytes,
      ref.writable_bytes, request.raw_type, request.addr, request.nb_blocks, ref.writable.size(),
      to_text(ChainAnswer{ref.response, is_state})));
}

// Every byte the reference wrote must read the same in the device's memory,
// but where the kick's own requests changed device memory.
void compare_written(const OverlayMemory& overlay, GuestMemory& memory, std::vector<std::string>& problems) {
  for (const auto& [gpa, expected] : overlay.written()) {
    std::array<uint8_t, 1> byte{};
    if (overlay.distrusted(gpa, 1)) continue;
    if (memory.read(gpa, byte) && byte[0] == expected) continue;
    problems.push_back(fmt::format("reference virtqueue: GPA {:#x} holds {:#04x} after the kick, the reference wrote "
                                   "{:#04x} there (response or used ring)", gpa, byte[0], expected));
    return;
  }
}

}  // namespace

void QueueReference::set_up(const std::string& device, const QueueLayout& layout, bool core_accepted,
                            std::vector<std::string>& problems) {
  const bool accepted = queues_[device].set_up(layout);
  if (accepted != core_accepted) {
    problems.push_back(fmt::format("reference virtqueue: queue of '{}' (size {}, desc {:#x}, avail {:#x}, used {:#x}) "
                                   "{} by the core, {} by the reference", device, layout.size, layout.desc,
                                   layout.avail, layout.used, core_accepted ? "accepted" : "refused",
                                   accepted ? "accepted" : "refused"));
  }
}

void QueueReference::reset(const std::string& device) {
  if (auto it = queues_.find(device); it != queues_.end()) it->second.reset();
}

void QueueReference::reset_all() {
  for (auto& [id, queue] : queues_) queue.reset();
}

void QueueReference::predict(const std::string& device, GuestMemory& memory, const ReferenceModel& model,
                             uint64_t device_memory_start, uint64_t device_memory_size) {
  prediction_.reset();
  const auto it = queues_.find(device);
  if (it == queues_.end()) return;
  Prediction p{std::make_unique<OverlayMemory>(memory), {}};
  ModelAnswerer answerer(model, *p.overlay, device_memory_start, device_memory_size);
  p.kick = it->second.kick(*p.overlay, answerer);
  prediction_ = std::move(p);
}

void QueueReference::compare(const std::string& device, const KickResult& kick, const Virtqueue& queue,
                             GuestMemory& memory, std::vector<std::string>& problems) {
  if (!prediction_) return;
  const Prediction p = std::move(*prediction_);
  prediction_.reset();
  ReferenceVirtqueue& ref = queues_.at(device);
  if (p.overlay->stale()) {
    ++unjudged_kicks_;
    ref.resume(queue.last_avail(), queue.used_idx());
    return;
  }
  if (kick.fault.has_value() != p.kick.fault.has_value() || kick.chains.size() != p.kick.chains.size()) {
    problems.push_back(fmt::format("reference virtqueue: the kick of '{}' served {} chains and {}; the reference "
                                   "served {} and {}", device, kick.chains.size(), fault_text(kick.fault),
                                   p.kick.chains.size(), fault_text(p.kick.fault)));
  }
  for (size_t i = 0; i < std::min(kick.chains.size(), p.kick.chains.size()); ++i) {
    compare_chain(kick.chains[i], p.kick.chains[i], problems);
  }
  if (queue.last_avail() != ref.last_avail() || queue.used_idx() != ref.used_idx()) {
    problems.push_back(fmt::format("reference virtqueue: '{}' consumed up to available index {} and used {}; the "
                                   "reference {} and {}", device, queue.last_avail(), queue.used_idx(),
                                   ref.last_avail(), ref.used_idx()));
  }
  compare_written(*p.overlay, memory, problems);
}

}  // namespace vmemcheck::scenario
