#include "minimize.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <functional>
#include <limits>
#include <vector>

#include "scenario_runner.hpp"

namespace vmemcheck::scenario {
namespace {

// One shrinkable number of an operation (a size, an offset, a count, a
// switch or a mode): its value, the value it is best reset to (the default,
// which the text form leaves out), and how to store a new value.
struct NumberField {
  uint64_t value = 0;
  uint64_t preferred = 0;
  std::function<void(uint64_t)> set;
};

template <class Field>
NumberField number(Field& field, Field preferred) {
  return {static_cast<uint64_t>(field), static_cast<uint64_t>(preferred),
          [&field](uint64_t v) { field = static_cast<Field>(v); }};
}

// An optional address whose preferred state is unset (the machine assigns one).
constexpr uint64_t kUnset = std::numeric_limits<uint64_t>::max();
NumberField optional_number(std::optional<uint64_t>& field) {
  return {field.value_or(kUnset), kUnset, [&field](uint64_t v) {
            if (v == kUnset) {
              field.reset();
            } else {
              field = v;
            }
          }};
}

// The numbers of each kind of operation, pointing into it.
struct NumbersOf {
  std::vector<NumberField> operator()(ConfigureMachine& m) const {
    const ConfigureMachine d;
    return {number(m.machine.device_memory_base, d.machine.device_memory_base),
            number(m.machine.device_memory_size, d.machine.device_memory_size),
            number(m.machine.numa_nodes, d.machine.numa_nodes),
            number(m.machine.reserved_memslots, d.machine.reserved_memslots),
            number(m.machine.smm, d.machine.smm),
            number(m.kvm.max_memslots, d.kvm.max_memslots),
            number(m.kvm.address_spaces, d.kvm.address_spaces),
            number(m.kvm.phys_bits, d.kvm.phys_bits),
            number(m.kvm.page_size, d.kvm.page_size),
            number(m.metadata.tdp_mmu, d.metadata.tdp_mmu),
            number(m.metadata.dirty_logging, d.metadata.dirty_logging)};
  }
  std::vector<NumberField> operator()(AddDevice& a) const {
    DeviceConfig& c = a.config;
    const DeviceConfig d;
    return {number(c.mode, d.mode),
            number(c.memslots, d.memslots),
            number(c.fixed_slot_size, d.fixed_slot_size),
            number(c.region_size, d.region_size),
            number(c.block_size, d.block_size),
            number(c.requested_size, d.requested_size),
            optional_number(c.addr),
            number(c.node, d.node),
            number(c.page_size, d.page_size),
            number(c.arch, d.arch),
            number(c.acpi, d.acpi),
            number(c.unplugged_inaccessible, d.unplugged_inaccessible),
            number(c.persistent_suspend, d.persistent_suspend)};
  }
  std::vector<NumberField> operator()(GuestRequest& g) const {
    return {number(g.addr.value, uint64_t{0}), number(g.nb_blocks, uint16_t{0})};
  }
  std::vector<NumberField> operator()(RawRequest& r) const {
    const RawRequest d;
    return {number(r.type, d.type), number(r.addr.value, uint64_t{0}), number(r.nb_blocks, d.nb_blocks),
            number(r.readable, d.readable), number(r.writable, d.writable)};
  }
  std::vector<NumberField> operator()(Resize& r) const { return {number(r.requested, uint64_t{0})}; }
  std::vector<NumberField> operator()(NegotiateFeatures& f) const {
    return {number(f.driver_features, uint64_t{0})};
  }
  std::vector<NumberField> operator()(InjectFault& f) const { return {number(f.skip, uint32_t{0})}; }
  std::vector<NumberField> operator()(AddVhost& v) const {
    return {number(v.vhost.max_memslots, uint32_t{0})};
  }
  std::vector<NumberField> operator()(GuestAccess& g) const {
    std::vector<NumberField> fields{number(g.addr.value, uint64_t{0})};
    if (g.write_value) fields.push_back(number(*g.write_value, uint64_t{0}));
    return fields;
  }
  std::vector<NumberField> operator()(SetupQueue& q) const {
    const QueueLayout d;
    return {number(q.layout.size, d.size), number(q.layout.desc, d.desc), number(q.layout.avail, d.avail),
            number(q.layout.used, d.used)};
  }
  std::vector<NumberField> operator()(Poke& p) const { return {number(p.gpa, uint64_t{0})}; }
  template <class Other>
  std::vector<NumberField> operator()(Other&) const {
    return {};
  }
};

// Values below `value` worth trying, smallest first: 0, 1, its top bit, the
// value without its top bit, and the value shifted right (which keeps a
// power-of-two alignment as long as it can).
std::vector<uint64_t> smaller_values(uint64_t value) {
  std::vector<uint64_t> out{0, 1};
  if (value != 0) {
    const uint64_t top = uint64_t{1} << (63 - std::countl_zero(value));
    out.push_back(top);
    out.push_back(value & ~top);
  }
  for (int shift = 1; shift < 64; ++shift) out.push_back(value >> shift);
  std::erase_if(out, [&](uint64_t v) { return v >= value; });
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

class Minimizer {
 public:
  Minimizer(const Scenario& input, Failure failure, size_t max_runs, const FailureProbe& probe)
      : best_(input),
        failure_(std::move(failure)),
        key_(failure_key(failure_.problem)),
        max_runs_(max_runs),
        probe_(probe) {
    best_.steps.resize(failure_.step + 1);
  }

  Minimized run() {
    bool shrunk = true;
    while (shrunk && runs_ < max_runs_) {
      shrunk = drop_steps();
      shrunk = shrink_numbers() || shrunk;
      shrunk = drop_details() || shrunk;
    }
    return {std::move(best_), std::move(failure_), runs_};
  }

 private:
  // Keeps `candidate` (cut after its failing step) when it fails the same way.
  bool try_candidate(std::vector<Step> steps) {
    if (runs_ >= max_runs_ || steps.empty()) return false;
    ++runs_;
    Scenario candidate{best_.name, std::move(steps)};
    // Through the text form: what is kept must run as written.
    auto reparsed = parse(to_text(candidate), best_.name);
    if (!reparsed) return false;
    auto failure = probe_(*reparsed);
    if (!failure || failure_key(failure->problem) != key_) return false;
    reparsed->steps.resize(failure->step + 1);
    best_ = std::move(*reparsed);
    failure_ = std::move(*failure);
    return true;
  }

  // ddmin over the steps: remove one of `chunks` parts at a time; on a miss
  // split finer, down to single steps.
  bool drop_steps() {
    bool shrunk = false;
    size_t chunks = 2;
    while (best_.steps.size() >= 2 && runs_ < max_runs_) {
      const size_t size = best_.steps.size();
      chunks = std::min(chunks, size);
      bool removed = false;
      for (size_t c = 0; c < chunks && !removed; ++c) {
        const size_t begin = c * size / chunks, end = (c + 1) * size / chunks;
        std::vector<Step> rest(best_.steps.begin(), best_.steps.begin() + static_cast<ptrdiff_t>(begin));
        rest.insert(rest.end(), best_.steps.begin() + static_cast<ptrdiff_t>(end), best_.steps.end());
        removed = try_candidate(std::move(rest));
      }
      if (removed) {
        shrunk = true;
        chunks = std::max<size_t>(chunks - 1, 2);
      } else if (chunks >= size) {
        break;
      } else {
        chunks = std::min(chunks * 2, size);
      }
    }
    return shrunk;
  }

  // Each number of each step towards its default, else to the smallest value
  // that still fails. A default is better than any other value and among the
  // others smaller is better, so this only moves one way and ends.
  bool shrink_numbers() {
    bool shrunk = false;
    for (size_t s = 0; s < best_.steps.size(); ++s) {
      const size_t count = std::visit(NumbersOf{}, best_.steps[s].op).size();
      for (size_t f = 0; f < count && s < best_.steps.size(); ++f) {
        while (shrink_number(s, f)) shrunk = true;
      }
    }
    return shrunk;
  }

  bool shrink_number(size_t step, size_t field) {
    if (step >= best_.steps.size()) return false;
    const auto fields = std::visit(NumbersOf{}, best_.steps[step].op);
    if (field >= fields.size() || fields[field].value == fields[field].preferred) return false;
    std::vector<uint64_t> candidates{fields[field].preferred};
    for (uint64_t v : smaller_values(fields[field].value)) {
      if (v != fields[field].preferred) candidates.push_back(v);
    }
    for (uint64_t v : candidates) {
      std::vector<Step> steps = best_.steps;
      std::visit(NumbersOf{}, steps[step].op)[field].set(v);
      if (try_candidate(std::move(steps))) return true;
    }
    return false;
  }

  // What is not a number: a migration's destination options one by one, an
  // injected fault's device, a poke's bytes (shorter prefixes).
  bool drop_details() {
    bool shrunk = false;
    for (size_t s = 0; s < best_.steps.size(); ++s) {
      if (auto* m = std::get_if<Migrate>(&best_.steps[s].op)) {
        for (size_t i = m->overrides.size(); i-- > 0;) {
          std::vector<Step> steps = best_.steps;
          auto& overrides = std::get<Migrate>(steps[s].op).overrides;
          overrides.erase(overrides.begin() + static_cast<ptrdiff_t>(i));
          if (try_candidate(std::move(steps))) {
            shrunk = true;
            if (s >= best_.steps.size()) break;
            m = std::get_if<Migrate>(&best_.steps[s].op);
            if (!m) break;
          }
        }
      } else if (auto* f = std::get_if<InjectFault>(&best_.steps[s].op); f && f->device) {
        std::vector<Step> steps = best_.steps;
        std::get<InjectFault>(steps[s].op).device.reset();
        shrunk = try_candidate(std::move(steps)) || shrunk;
      } else if (auto* p = std::get_if<Poke>(&best_.steps[s].op)) {
        shrunk = shorten_poke(s, p->bytes.size()) || shrunk;
      }
    }
    return shrunk;
  }

  bool shorten_poke(size_t step, size_t length) {
    for (size_t keep = 1; keep < length; keep *= 2) {
      std::vector<Step> steps = best_.steps;
      std::get<Poke>(steps[step].op).bytes.resize(keep);
      if (try_candidate(std::move(steps))) return true;
    }
    return false;
  }

  Scenario best_;
  Failure failure_;
  std::string key_;
  size_t max_runs_;
  const FailureProbe& probe_;
  size_t runs_ = 0;
};

}  // namespace

std::optional<Failure> first_failure(const Scenario& scenario) {
  RunOptions options;
  options.describe_steps = false;
  Runner runner(options);
  for (size_t i = 0; i < scenario.steps.size(); ++i) {
    StepReport report = runner.step(scenario.steps[i]);
    if (!report.problems.empty()) return Failure{i, std::move(report.problems.front())};
  }
  return std::nullopt;
}

std::string failure_key(std::string_view problem) {
  std::string key;
  for (size_t i = 0; i < problem.size();) {
    if (!std::isdigit(static_cast<unsigned char>(problem[i]))) {
      key += problem[i++];
      continue;
    }
    const bool hex = problem[i] == '0' && i + 1 < problem.size() && (problem[i + 1] == 'x' || problem[i + 1] == 'X');
    i += hex ? 2 : 1;
    while (i < problem.size() && (hex ? std::isxdigit(static_cast<unsigned char>(problem[i]))
                                      : std::isdigit(static_cast<unsigned char>(problem[i])))) {
      ++i;
    }
    key += 'N';
  }
  return key;
}

std::optional<Minimized> minimize(const Scenario& scenario, size_t max_runs, const FailureProbe& probe) {
  auto failure = probe(scenario);
  if (!failure) return std::nullopt;
  return Minimizer(scenario, std::move(*failure), max_runs, probe).run();
}

}  // namespace vmemcheck::scenario
