#include "scenario.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "units.hpp"

namespace vmemcheck::scenario {
namespace {

std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

Result<uint64_t> size_value(std::string_view key, std::string_view value) {
  if (auto parsed = parse_size(value)) return *parsed;
  return Error{fmt::format("{}: '{}' is not a size (examples: 4096, 0x1000, 2M, 1G, 1T)", key, value)};
}

template <class Int>
Result<Int> int_value(std::string_view key, std::string_view value) {
  Int parsed{};
  int base = 10;
  std::string_view digits = value;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X')) {
    base = 16;
    digits.remove_prefix(2);
  }
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), parsed, base);
  if (error != std::errc() || end != digits.data() + digits.size() || digits.empty()) {
    return Error{fmt::format("{}: '{}' is not a number in range", key, value)};
  }
  return parsed;
}

Result<bool> switch_value(std::string_view key, std::string_view value) {
  if (value == "on" || value == "true" || value == "yes") return true;
  if (value == "off" || value == "false" || value == "no") return false;
  return Error{fmt::format("{}: '{}' is neither on nor off", key, value)};
}

// Stores a parsed option value, or passes its parse error on.
template <class T>
Status assign(T& field, Result<T> parsed) {
  if (!parsed) return parsed.error();
  field = *parsed;
  return ok_status();
}

Result<Address> address_value(std::string_view key, std::string_view value) {
  const bool relative = !value.empty() && value[0] == '+';
  auto parsed = size_value(key, relative ? value.substr(1) : value);
  if (!parsed) return parsed.error();
  return Address{*parsed, relative};
}

Result<std::pair<std::string_view, std::string_view>> key_value(std::string_view word) {
  const size_t eq = word.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return Error{fmt::format("expected KEY=VALUE, got '{}'", word)};
  }
  return std::pair{word.substr(0, eq), word.substr(eq + 1)};
}

std::string on_off(bool value) { return value ? "on" : "off"; }

std::string address_text(const Address& a) {
  return a.relative ? "+" + format_size(a.value) : fmt::format("{:#x}", a.value);
}

// The words of one operation line (without "=> ..."), as each verb's parser
// reads them; the verb has been checked to have at least its minimum words.
class Words {
 public:
  explicit Words(const std::vector<std::string_view>& words) : words_(words) {}
  std::string_view verb() const { return words_[0]; }
  size_t size() const { return words_.size(); }
  std::string_view operator[](size_t i) const { return words_[i]; }
  std::string id() const { return std::string(words_[1]); }
  // Applies `apply(key, value)` to every KEY=VALUE word from `first` on.
  template <class Apply>
  Status options_from(size_t first, Apply&& apply) const {
    for (size_t i = first; i < words_.size(); ++i) {
      auto kv = key_value(words_[i]);
      if (!kv) return kv.error();
      if (auto applied = apply(kv->first, kv->second); !applied) return applied;
    }
    return ok_status();
  }

 private:
  const std::vector<std::string_view>& words_;
};

// One parser per verb; kGrammar below lists them with their usage.

Result<Op> parse_machine(const Words& w) {
  ConfigureMachine m;
  auto options = w.options_from(1, [&](std::string_view k, std::string_view v) -> Status {
    if (k == "base") return assign(m.machine.device_memory_base, size_value(k, v));
    if (k == "size") return assign(m.machine.device_memory_size, size_value(k, v));
    if (k == "numa-nodes") return assign(m.machine.numa_nodes, int_value<uint32_t>(k, v));
    if (k == "reserved-memslots") return assign(m.machine.reserved_memslots, int_value<uint32_t>(k, v));
    if (k == "smm") return assign(m.machine.smm, switch_value(k, v));
    if (k == "kvm-memslots") return assign(m.kvm.max_memslots, int_value<uint32_t>(k, v));
    if (k == "phys-bits") return assign(m.kvm.phys_bits, int_value<uint32_t>(k, v));
    if (k == "tdp-mmu") return assign(m.metadata.tdp_mmu, switch_value(k, v));
    if (k == "dirty-logging") return assign(m.metadata.dirty_logging, switch_value(k, v));
    return Error{fmt::format("unknown machine option '{}'", k)};
  });
  if (!options) return options.error();
  if (m.machine.numa_nodes == 0) return Error{"numa-nodes must be at least 1"};
  if (m.kvm.phys_bits < 32 || m.kvm.phys_bits > 52) return Error{"phys-bits must be within 32..52"};
  if (m.kvm.max_memslots == 0 || m.kvm.max_memslots > 32767) {
    return Error{"kvm-memslots must be within 1..32767"};
  }
  if (m.machine.device_memory_base > kMaxGuestPhysical ||
      m.machine.device_memory_size > kMaxGuestPhysical - m.machine.device_memory_base) {
    return Error{"the device-memory area ends beyond the 52-bit guest-physical address space"};
  }
  return Op{m};
}

Result<Op> parse_device(const Words& w) {
  AddDevice d;
  d.config.id = w.id();
  d.config.memdev = "";
  bool has_size = false;
  auto options = w.options_from(2, [&](std::string_view k, std::string_view v) -> Status {
    has_size = has_size || k == "size";
    return apply_device_option(d.config, k, v);
  });
  if (!options) return options.error();
  if (!has_size) return Error{"device: size=SIZE is required"};
  return Op{d};
}

// plug, unplug and state.
Result<Op> parse_range_request(const Words& w) {
  if (w.size() > 4) return Error{fmt::format("'{}' takes 3 arguments, got {}", w.verb(), w.size() - 1)};
  GuestRequest r;
  r.device = w.id();
  r.type = w.verb() == "plug"     ? RequestType::Plug
           : w.verb() == "unplug" ? RequestType::Unplug
                                  : RequestType::State;
  auto addr = address_value("ADDR", w[2]);
  if (!addr) return addr.error();
  r.addr = *addr;
  auto nb = int_value<uint16_t>("NB_BLOCKS (0..65535)", w[3]);
  if (!nb) return nb.error();
  r.nb_blocks = *nb;
  return Op{r};
}

Result<Op> parse_unplug_all(const Words& w) { return Op{GuestRequest{w.id(), RequestType::UnplugAll, {}, 0}}; }

Result<Op> parse_raw(const Words& w) {
  RawRequest r;
  r.device = w.id();
  auto options = w.options_from(2, [&](std::string_view k, std::string_view v) -> Status {
    if (k == "type") return assign(r.type, int_value<uint16_t>(k, v));
    if (k == "addr") return assign(r.addr, address_value(k, v));
    if (k == "nb") return assign(r.nb_blocks, int_value<uint16_t>(k, v));
    if (k == "readable") return assign(r.readable, int_value<uint64_t>(k, v));
    if (k == "writable") return assign(r.writable, int_value<uint64_t>(k, v));
    return Error{fmt::format("unknown raw option '{}'", k)};
  });
  if (!options) return options.error();
  return Op{r};
}

Result<Op> parse_resize(const Words& w) {
  auto size = size_value("SIZE", w[2]);
  if (!size) return size.error();
  return Op{Resize{w.id(), *size}};
}

Result<Op> parse_system_reset(const Words&) { return Op{SystemReset{}}; }

Result<Op> parse_virtio_reset(const Words& w) {
  if (w.size() > 3 || (w.size() == 3 && w[2] != "flr")) {
    return Error{fmt::format("'virtio-reset' takes an ID and, for a PCIe function-level reset, 'flr'; got '{}'",
                             w.size() > 2 ? w[2] : "")};
  }
  return Op{VirtioReset{w.id(), w.size() == 3}};
}

Result<Op> parse_busy(const Words& w) {
  auto busy = switch_value("busy", w[2]);
  if (!busy) return busy.error();
  return Op{SetBusy{w.id(), *busy}};
}

Result<Op> parse_features(const Words& w) {
  auto bits = int_value<uint64_t>("BITS", w[2]);
  if (!bits) return bits.error();
  return Op{NegotiateFeatures{w.id(), *bits}};
}

Result<Op> parse_remove(const Words& w) { return Op{RemoveDevice{w.id(), w.verb() == "eject"}}; }

Result<Op> parse_migrate(const Words& w) {
  Migrate m;
  m.device = w.id();
  DeviceConfig probe;
  auto options = w.options_from(2, [&](std::string_view k, std::string_view v) -> Status {
    if (k == "size" || k == "addr" || k == "block") {
      return Error{fmt::format("migrate: '{}' must match the source; only memslot options may differ", k)};
    }
    if (k == "stream" || k == "fail") {
      const bool known = k == "stream" ? std::ranges::find(kStreamEdits, v) != std::end(kStreamEdits)
                                       : v == "map" || v == "discard";
      if (!known) return Error{fmt::format("migrate: unknown {} '{}'", k, v)};
      m.overrides.emplace_back(std::string(k), std::string(v));
      return ok_status();
    }
    if (auto applied = apply_device_option(probe, k, v); !applied) return applied;
    m.overrides.emplace_back(std::string(k), std::string(v));
    return ok_status();
  });
  if (!options) return options.error();
  return Op{m};
}

Result<Op> parse_fail(const Words& w) {
  InjectFault f;
  auto kind = parse_fault_kind(w[1]);
  if (!kind) return Error{fmt::format("unknown fault '{}' (map, populate, discard, attach)", w[1])};
  f.kind = *kind;
  auto options = w.options_from(2, [&](std::string_view k, std::string_view v) -> Status {
    if (k == "device") {
      f.device = std::string(v);
      return ok_status();
    }
    if (k == "skip") return assign(f.skip, int_value<uint32_t>(k, v));
    return Error{fmt::format("unknown fail option '{}'", k)};
  });
  if (!options) return options.error();
  return Op{f};
}

Result<Op> parse_vhost(const Words& w) {
  AddVhost v;
  v.vhost.name = w.id();
  bool has_max = false;
  auto options = w.options_from(2, [&](std::string_view k, std::string_view value) -> Status {
    if (k != "max") return Error{fmt::format("unknown vhost option '{}'", k)};
    has_max = true;
    return assign(v.vhost.max_memslots, int_value<uint32_t>(k, value));
  });
  if (!options) return options.error();
  if (!has_max) return Error{"vhost: max=N is required"};
  return Op{v};
}

// read and write.
Result<Op> parse_guest_access(const Words& w) {
  GuestAccess a;
  a.device = w.id();
  auto addr = address_value("ADDR", w[2]);
  if (!addr) return addr.error();
  a.addr = *addr;
  if (w.verb() == "write") {
    auto value = int_value<uint64_t>("VALUE", w[3]);
    if (!value) return value.error();
    a.write_value = *value;
  }
  return Op{a};
}

Result<Op> parse_queue(const Words& w) {
  SetupQueue q;
  q.device = w.id();
  auto options = w.options_from(2, [&](std::string_view k, std::string_view v) -> Status {
    if (k == "size") return assign(q.layout.size, int_value<uint16_t>(k, v));
    if (k == "desc") return assign(q.layout.desc, size_value(k, v));
    if (k == "avail") return assign(q.layout.avail, size_value(k, v));
    if (k == "used") return assign(q.layout.used, size_value(k, v));
    return Error{fmt::format("unknown queue option '{}' (size, desc, avail, used)", k)};
  });
  if (!options) return options.error();
  return Op{q};
}

Result<Op> parse_poke(const Words& w) {
  if (w.size() > 3) return Error{fmt::format("'poke' takes 2 arguments, got {}", w.size() - 1)};
  Poke p;
  auto gpa = size_value("ADDR", w[1]);
  if (!gpa) return gpa.error();
  p.gpa = *gpa;
  const std::string_view hex = w[2];
  if (hex.size() % 2 != 0 || hex.size() / 2 > kMaxPokeBytes) {
    return Error{fmt::format("HEXBYTES: an even number of hex digits, at most {} bytes", kMaxPokeBytes)};
  }
  for (size_t i = 0; i < hex.size(); i += 2) {
    auto byte = int_value<uint8_t>("HEXBYTES", fmt::format("0x{}", hex.substr(i, 2)));
    if (!byte) return byte.error();
    p.bytes.push_back(*byte);
  }
  return Op{p};
}

Result<Op> parse_kick(const Words& w) { return Op{Kick{w.id()}}; }

Result<Op> parse_mtree(const Words&) { return Op{ShowMtree{}}; }

Result<Op> parse_slots(const Words&) { return Op{ShowSlots{}}; }

Result<Op> parse_expect(const Words& w) {
  Expect e;
  size_t first = 1;
  if (w.size() > 1 && w[1].find('=') == std::string_view::npos) {
    e.device = w.id();
    first = 2;
  }
  auto options = w.options_from(first, [&](std::string_view k, std::string_view v) -> Status {
    e.checks.emplace_back(std::string(k), std::string(v));
    return ok_status();
  });
  if (!options) return options.error();
  if (e.checks.empty()) return Error{"expect: give at least one KEY=VALUE"};
  return Op{e};
}

// One region of a checkpoint: DEPTH,START,LAST,PRIO,TYPE,NAME[,TARGET,OFFSET]
// (the alias's offset range ends where its guest-physical range does).
Result<MtreeRegion> region_value(std::string_view text) {
  std::vector<std::string_view> fields;
  for (size_t start = 0; start <= text.size();) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    fields.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (fields.size() != 6 && fields.size() != 8) {
    return Error{fmt::format("region: DEPTH,START,LAST,PRIO,TYPE,NAME[,TARGET,OFFSET], got '{}'", text)};
  }
  MtreeRegion r;
  if (auto s = assign(r.depth, int_value<unsigned>("region depth", fields[0])); !s) return s.error();
  if (auto s = assign(r.start, size_value("region start", fields[1])); !s) return s.error();
  if (auto s = assign(r.last, size_value("region last", fields[2])); !s) return s.error();
  if (auto s = assign(r.priority, int_value<int>("region priority", fields[3])); !s) return s.error();
  r.type = fields[4];
  r.name = fields[5];
  if (fields.size() == 8) {
    auto offset = size_value("region offset", fields[7]);
    if (!offset) return offset.error();
    r.alias = MtreeRegion::Alias{std::string(fields[6]), *offset, *offset + (r.last - r.start)};
  }
  return r;
}

std::string region_text(const MtreeRegion& r) {
  std::string text = fmt::format("{},{:#x},{:#x},{},{},{}", r.depth, r.start, r.last, r.priority, r.type, r.name);
  if (r.alias) text += fmt::format(",{},{:#x}", r.alias->target, r.alias->offset);
  return text;
}

Result<Op> parse_checkpoint(const Words& w) {
  Checkpoint c;
  c.device = w.id();
  auto options = w.options_from(2, [&](std::string_view k, std::string_view v) -> Status {
    if (k == "plugged") return assign(c.plugged, size_value(k, v));
    if (k == "requested") return assign(c.requested, size_value(k, v));
    if (k == "usable") return assign(c.usable, size_value(k, v));
    if (k == "region") {
      auto region = region_value(v);
      if (!region) return region.error();
      c.regions.push_back(std::move(*region));
      return ok_status();
    }
    return Error{fmt::format("unknown checkpoint option '{}' (plugged, requested, usable, region)", k)};
  });
  if (!options) return options.error();
  return Op{c};
}

// The scenario language: every verb, its usage and the fewest words (the
// verb included) a line of it has. to_text() below writes the same forms.
struct Verb {
  std::string_view name;
  std::string_view usage;
  size_t min_words;
  Result<Op> (*parse)(const Words&);
};
constexpr Verb kGrammar[] = {
    {"machine", "machine [base=ADDR] [size=SIZE] [numa-nodes=N] [reserved-memslots=N] [smm=on|off] "
                "[kvm-memslots=N] [phys-bits=N] [tdp-mmu=on|off] [dirty-logging=on|off]", 1, parse_machine},
    {"device", "device ID size=SIZE [options]", 2, parse_device},
    {"plug", "plug ID ADDR NB_BLOCKS", 4, parse_range_request},
    {"unplug", "unplug ID ADDR NB_BLOCKS", 4, parse_range_request},
    {"state", "state ID ADDR NB_BLOCKS", 4, parse_range_request},
    {"unplug-all", "unplug-all ID", 2, parse_unplug_all},
    {"raw", "raw ID type=N [addr=ADDR] [nb=N] [readable=N] [writable=N]", 2, parse_raw},
    {"resize", "resize ID SIZE", 3, parse_resize},
    {"reset", "reset", 1, parse_system_reset},
    {"virtio-reset", "virtio-reset ID [flr]", 2, parse_virtio_reset},
    {"busy", "busy ID on|off", 3, parse_busy},
    {"features", "features ID BITS", 3, parse_features},
    {"remove", "remove ID", 2, parse_remove},
    {"eject", "eject ID", 2, parse_remove},
    {"migrate", "migrate ID [destination device options]", 2, parse_migrate},
    {"fail", "fail map|populate|discard|attach [device=ID] [skip=N]", 2, parse_fail},
    {"vhost", "vhost NAME max=N", 3, parse_vhost},
    {"write", "write ID ADDR VALUE", 4, parse_guest_access},
    {"read", "read ID ADDR", 3, parse_guest_access},
    {"queue", "queue ID [size=N] [desc=ADDR] [avail=ADDR] [used=ADDR]", 2, parse_queue},
    {"poke", "poke ADDR HEXBYTES", 3, parse_poke},
    {"kick", "kick ID", 2, parse_kick},
    {"mtree", "mtree", 1, parse_mtree},
    {"slots", "slots", 1, parse_slots},
    {"expect", "expect [ID] KEY=VALUE...", 1, parse_expect},
    {"checkpoint", "checkpoint ID plugged=SIZE requested=SIZE usable=SIZE [region=REGION]...", 2, parse_checkpoint},
};

// Parses one operation from its words (without "=> ...").
Result<Op> parse_op(const std::vector<std::string_view>& words) {
  const std::string_view verb = words[0];
  for (const Verb& v : kGrammar) {
    if (v.name != verb) continue;
    if (words.size() < v.min_words) return Error{fmt::format("'{}' needs: {}", verb, v.usage)};
    return v.parse(Words(words));
  }
  return Error{fmt::format("unknown operation '{}'", verb)};
}

}  // namespace

Status apply_device_option(DeviceConfig& c, std::string_view k, std::string_view v) {
  if (k == "size") return assign(c.region_size, size_value(k, v));
  if (k == "block") return assign(c.block_size, size_value(k, v));
  if (k == "requested") return assign(c.requested_size, size_value(k, v));
  if (k == "page-size") return assign(c.page_size, size_value(k, v));
  if (k == "slot-size") return assign(c.fixed_slot_size, size_value(k, v));
  if (k == "addr") {
    uint64_t addr = 0;
    if (auto set = assign(addr, size_value(k, v)); !set) return set;
    c.addr = addr;
    return ok_status();
  }
  if (k == "node") return assign(c.node, int_value<uint16_t>(k, v));
  if (k == "memslots") return assign(c.memslots, int_value<uint32_t>(k, v));
  if (k == "memdev") {
    c.memdev = std::string(v);
    return ok_status();
  }
  if (k == "mode") {
    auto mode = parse_memslot_mode(v);
    if (!mode) return Error{fmt::format("mode: '{}' is not static, count, multiple, dynamic or fixed", v)};
    c.mode = *mode;
    return ok_status();
  }
  if (k == "arch") {
    auto arch = parse_arch(v);
    if (!arch) return Error{fmt::format("arch: '{}' is not x86_64, arm64 or s390x", v)};
    c.arch = *arch;
    return ok_status();
  }
  if (k == "unplugged-inaccessible") return assign(c.unplugged_inaccessible, switch_value(k, v));
  if (k == "acpi") return assign(c.acpi, switch_value(k, v));
  if (k == "persistent-suspend") return assign(c.persistent_suspend, switch_value(k, v));
  return Error{fmt::format("unknown device option '{}'", k)};
}

Result<Scenario> parse(std::string_view text, std::string_view name) {
  Scenario scenario;
  scenario.name = std::string(name);
  int line_number = 0;
  size_t position = 0;
  while (position <= text.size()) {
    const size_t newline = text.find('\n', position);
    std::string_view line = text.substr(position, newline == std::string_view::npos ? std::string_view::npos : newline - position);
    position = newline == std::string_view::npos ? text.size() + 1 : newline + 1;
    ++line_number;
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // CRLF files
    // Operations are ASCII; anything else is binary data or a mangled file.
    for (size_t column = 0; column < line.size(); ++column) {
      const auto byte = static_cast<unsigned char>(line[column]);
      if ((byte < 0x20 && byte != '\t') || byte >= 0x7f) {
        return Error{fmt::format("{}:{}:{}: byte {:#04x} is not part of a text scenario", name, line_number,
                                 column + 1, byte)};
      }
    }
    std::optional<std::string> expected;
    if (const size_t arrow = line.find("=>"); arrow != std::string_view::npos) {
      std::string outcome;
      for (auto word : split_words(line.substr(arrow + 2))) outcome += (outcome.empty() ? "" : " ") + std::string(word);
      if (outcome.empty()) return Error{fmt::format("{}:{}: '=>' must be followed by the expected outcome", name, line_number)};
      expected = outcome;
      line = line.substr(0, arrow);
    }
    const auto words = split_words(line);
    if (words.empty()) {
      if (expected) return Error{fmt::format("{}:{}: '=>' without an operation", name, line_number)};
      continue;
    }
    auto op = parse_op(words);
    if (!op) return Error{fmt::format("{}:{}: {}", name, line_number, op.error().message)};
    scenario.steps.push_back({std::move(*op), std::move(expected), line_number});
  }
  return scenario;
}

Result<Scenario> parse_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error{fmt::format("{}: cannot open the file", path)};
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Error{fmt::format("{}: read error", path)};
  const std::string text = buffer.str();
  if (text.find('\0') != std::string::npos) {
    return Error{fmt::format("{}: binary data, not a text scenario", path)};
  }
  return parse(text, path);
}

namespace {

std::string device_options(const DeviceConfig& c) {
  const DeviceConfig d;
  std::string out = fmt::format("size={}", format_size(c.region_size));
  if (c.block_size != d.block_size) out += " block=" + format_size(c.block_size);
  if (c.requested_size != d.requested_size) out += " requested=" + format_size(c.requested_size);
  if (c.addr) out += fmt::format(" addr={:#x}", *c.addr);
  if (c.node != d.node) out += fmt::format(" node={}", c.node);
  if (!c.memdev.empty()) out += " memdev=" + c.memdev;
  if (c.mode != d.mode) out += fmt::format(" mode={}", name(c.mode));
  if (c.memslots != d.memslots) out += fmt::format(" memslots={}", c.memslots);
  if (c.fixed_slot_size != d.fixed_slot_size) out += " slot-size=" + format_size(c.fixed_slot_size);
  if (c.unplugged_inaccessible != d.unplugged_inaccessible) out += " unplugged-inaccessible=" + on_off(c.unplugged_inaccessible);
  if (c.page_size != d.page_size) out += " page-size=" + format_size(c.page_size);
  if (c.arch != d.arch) out += fmt::format(" arch={}", name(c.arch));
  if (c.acpi != d.acpi) out += " acpi=" + on_off(c.acpi);
  if (c.persistent_suspend != d.persistent_suspend) out += " persistent-suspend=" + on_off(c.persistent_suspend);
  return out;
}

struct TextOf {
  std::string operator()(const ConfigureMachine& m) const {
    const ConfigureMachine d;
    std::string out = "machine";
    if (m.machine.device_memory_base != d.machine.device_memory_base) out += fmt::format(" base={:#x}", m.machine.device_memory_base);
    if (m.machine.device_memory_size != d.machine.device_memory_size) out += " size=" + format_size(m.machine.device_memory_size);
    if (m.machine.numa_nodes != d.machine.numa_nodes) out += fmt::format(" numa-nodes={}", m.machine.numa_nodes);
    if (m.machine.reserved_memslots != d.machine.reserved_memslots) out += fmt::format(" reserved-memslots={}", m.machine.reserved_memslots);
    if (m.machine.smm != d.machine.smm) out += " smm=" + on_off(m.machine.smm);
    if (m.kvm.max_memslots != d.kvm.max_memslots) out += fmt::format(" kvm-memslots={}", m.kvm.max_memslots);
    if (m.kvm.phys_bits != d.kvm.phys_bits) out += fmt::format(" phys-bits={}", m.kvm.phys_bits);
    if (m.metadata.tdp_mmu != d.metadata.tdp_mmu) out += " tdp-mmu=" + on_off(m.metadata.tdp_mmu);
    if (m.metadata.dirty_logging != d.metadata.dirty_logging) out += " dirty-logging=" + on_off(m.metadata.dirty_logging);
    return out;
  }
  std::string operator()(const AddDevice& a) const { return fmt::format("device {} {}", a.config.id, device_options(a.config)); }
  std::string operator()(const RemoveDevice& r) const { return (r.by_guest ? "eject " : "remove ") + r.device; }
  std::string operator()(const GuestRequest& r) const {
    switch (r.type) {
      case RequestType::Plug: return fmt::format("plug {} {} {}", r.device, address_text(r.addr), r.nb_blocks);
      case RequestType::Unplug: return fmt::format("unplug {} {} {}", r.device, address_text(r.addr), r.nb_blocks);
      case RequestType::State: return fmt::format("state {} {} {}", r.device, address_text(r.addr), r.nb_blocks);
      case RequestType::UnplugAll: return "unplug-all " + r.device;
    }
    return "?";
  }
  std::string operator()(const RawRequest& r) const {
    return fmt::format("raw {} type={} addr={} nb={} readable={} writable={}", r.device, r.type,
                       address_text(r.addr), r.nb_blocks, r.readable, r.writable);
  }
  std::string operator()(const Resize& r) const { return fmt::format("resize {} {}", r.device, format_size(r.requested)); }
  std::string operator()(const SystemReset&) const { return "reset"; }
  std::string operator()(const VirtioReset& r) const {
    return "virtio-reset " + r.device + (r.function_level ? " flr" : "");
  }
  std::string operator()(const NegotiateFeatures& f) const {
    return fmt::format("features {} {:#x}", f.device, f.driver_features);
  }
  std::string operator()(const SetBusy& b) const { return fmt::format("busy {} {}", b.device, on_off(b.busy)); }
  std::string operator()(const Migrate& m) const {
    std::string out = "migrate " + m.device;
    for (const auto& [k, v] : m.overrides) out += fmt::format(" {}={}", k, v);
    return out;
  }
  std::string operator()(const InjectFault& f) const {
    std::string out = fmt::format("fail {}", name(f.kind));
    if (f.device) out += " device=" + *f.device;
    if (f.skip) out += fmt::format(" skip={}", f.skip);
    return out;
  }
  std::string operator()(const AddVhost& v) const { return fmt::format("vhost {} max={}", v.vhost.name, v.vhost.max_memslots); }
  std::string operator()(const GuestAccess& a) const {
    if (a.write_value) return fmt::format("write {} {} {:#x}", a.device, address_text(a.addr), *a.write_value);
    return fmt::format("read {} {}", a.device, address_text(a.addr));
  }
  std::string operator()(const SetupQueue& q) const {
    return fmt::format("queue {} size={} desc={:#x} avail={:#x} used={:#x}", q.device, q.layout.size, q.layout.desc,
                       q.layout.avail, q.layout.used);
  }
  std::string operator()(const Poke& p) const {
    std::string out = fmt::format("poke {:#x} ", p.gpa);
    for (uint8_t byte : p.bytes) out += fmt::format("{:02x}", byte);
    return out;
  }
  std::string operator()(const Kick& k) const { return "kick " + k.device; }
  std::string operator()(const ShowMtree&) const { return "mtree"; }
  std::string operator()(const ShowSlots&) const { return "slots"; }
  std::string operator()(const Expect& e) const {
    std::string out = "expect";
    if (e.device) out += " " + *e.device;
    for (const auto& [k, v] : e.checks) out += fmt::format(" {}={}", k, v);
    return out;
  }
  std::string operator()(const Checkpoint& c) const {
    std::string out = fmt::format("checkpoint {} plugged={:#x} requested={:#x} usable={:#x}", c.device, c.plugged,
                                  c.requested, c.usable);
    for (const MtreeRegion& region : c.regions) out += " region=" + region_text(region);
    return out;
  }
};

}  // namespace

std::string to_text(const Op& op) { return std::visit(TextOf{}, op); }

std::string to_text(const Scenario& scenario) {
  std::string out;
  for (const Step& step : scenario.steps) {
    out += to_text(step.op);
    if (step.expected) out += " => " + *step.expected;
    out += '\n';
  }
  return out;
}

}  // namespace vmemcheck::scenario
