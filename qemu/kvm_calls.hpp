// QEMU on real KVM beside the core's KVM slot backend: the
// KVM_SET_USER_MEMORY_REGION calls both make for the same ops, compared call
// by call (vmemcheck qemu --accel kvm). QEMU's come from its
// `kvm_set_user_memory` trace events, the core's from a platform that records
// what its backend asks of the shadow KVM.
//
// Which calls are compared: QEMU also maps its boot RAM, BIOS and option
// ROMs, and remaps them when the chipset's PAM and SMRAM registers change;
// those lie below the device-memory area (4 GiB on q35 with little boot RAM)
// and the core has no counterpart. Every call at or above the area's base
// is a memory device's memslot, and every call of the core's backend is one.
//
// Slot ids: QEMU numbers slots per address space from 0, its boot memory
// first; the core's backend from its machine's reserved-memslots on, the
// same id in both address spaces. So an id is compared through a pairing,
// per address space: the first map of a QEMU id pairs it with the core's id
// in the same call, a delete ends the pairing, and every call in between
// must use the paired ids (and no id may be paired twice).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kvm_vm.hpp"
#include "platform.hpp"

namespace vmemcheck::qemu {

// One KVM_SET_USER_MEMORY_REGION call: size 0 deletes the slot.
struct KvmCall {
  uint32_t address_space = 0;
  uint32_t slot = 0;  // the id within its address space
  uint32_t flags = 0;
  uint64_t gpa = 0;
  uint64_t size = 0;
  friend bool operator==(const KvmCall&, const KvmCall&) = default;
};

KvmCall kvm_call(const KvmRegion& region);
// QEMU's trace line "kvm_set_user_memory AddrSpace#0 Slot#4 flags=0x0
// gpa=0x100000 size=0x7f00000 ua=0x... ret=0" (a log backend's "PID@TIME:"
// prefix allowed), or 7.2's without AddrSpace# ("Slot#65540" is address
// space 1's slot 4); nullopt for any other line. A call KVM refused (ret != 0)
// is kept: the core's backend would have made it too.
std::optional<KvmCall> parse_kvm_trace_line(const std::string& line);
// "AS0 #4 map gpa=0x100000 size=0x7f00000 flags=0x0" (or "delete").
std::string describe(const KvmCall& call);

// A platform whose sessions are the shadow KVM alone (as shadow_platform())
// and record every call the core's backend makes, in order. A planted
// difference (--plant-kvm-difference) records the first map of a slot
// 2 MiB shorter than the backend asked: what the shadow KVM got is unchanged,
// so only this comparison can see it.
class RecordingPlatform final : public Platform {
 public:
  explicit RecordingPlatform(bool plant_short_slot = false) : plant_(plant_short_slot) {}
  std::string name() const override { return "shadow, recorded"; }
  Result<std::unique_ptr<PlatformSession>> start(ShadowKvm& shadow, const MachineConfig& machine) override;
  // The calls since the last take.
  std::vector<KvmCall> take_calls() { return std::exchange(calls_, {}); }

 private:
  std::vector<KvmCall> calls_;
  bool plant_;
  bool planted_ = false;
};

// QEMU's trace file, read as it grows: the complete lines since the last read.
class KvmTraceReader {
 public:
  explicit KvmTraceReader(std::string path) : path_(std::move(path)) {}
  const std::string& path() const { return path_; }
  std::vector<KvmCall> take_calls();
  // Every call ever read, in order (QEMU's own memory included).
  const std::vector<KvmCall>& all() const { return all_; }

 private:
  std::string path_;
  uint64_t offset_ = 0;
  std::string partial_;
  std::vector<KvmCall> all_;
};

// The calls of one group of ops (usually one op) on both sides.
struct KvmCallGroup {
  std::string ops;  // "  12  plug vmem0 ...", one line per op
  std::vector<KvmCall> qemu;  // device-memory calls only
  std::vector<KvmCall> core;
};

struct KvmComparison {
  size_t qemu_calls = 0, core_calls = 0, compared = 0, differences = 0;
  std::string listing;  // both lists side by side, differences marked
  std::vector<std::string> difference_lines;
};

// Compares the groups call by call, per address space in order, slot ids
// through the pairing described above.
KvmComparison compare_kvm_calls(const std::vector<KvmCallGroup>& groups);

}  // namespace vmemcheck::qemu
