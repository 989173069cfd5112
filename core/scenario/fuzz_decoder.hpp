// The one decoder from fuzzer bytes to scenario operations, shared by every
// fuzz target, the replay drivers and `vmemcheck replay` / `convert`. Any
// byte string decodes (running out of bytes reads as zeros and ends the
// sequence), so every input, crashing or not, has a text scenario.
//
// The bytes drive a ScenarioBuilder (random_scenario.hpp) in place of its
// PRNG: the fuzzers share the generator's bias towards edges, and its
// grammar. Each target adds its own operations on top.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "scenario.hpp"

namespace vmemcheck::fuzz {

enum class Target {
  Ops,        // op sequences over 1-3 devices of every memslot mode, faults, migrations
  Virtqueue,  // raw ring and descriptor contents in guest RAM, kicks, resets
  Layout,     // memslot layout decision and machine budget over random geometry
};
inline constexpr Target kTargets[] = {Target::Ops, Target::Virtqueue, Target::Layout};

std::string_view name(Target target);
std::optional<Target> parse_target(std::string_view text);

// At most this many operations per input, after the set-up (keeps exec/s high).
inline constexpr uint64_t kMaxOps = 64;

scenario::Scenario decode(Target target, std::span<const uint8_t> bytes);

// Where the virtqueue target's driver keeps its queue in boot RAM.
inline constexpr uint64_t kQueueDesc = 0x10000;
inline constexpr uint64_t kQueueAvail = 0x11000;
inline constexpr uint64_t kQueueUsed = 0x12000;
inline constexpr uint64_t kQueueRequests = 0x13000;   // 4 request buffers of 32 bytes
inline constexpr uint64_t kQueueResponses = 0x13800;  // 4 response buffers of 16 bytes
inline constexpr uint64_t kQueueTables = 0x14000;     // 4 indirect tables of 256 bytes
// The virtqueue target's device sits at the default machine's device-memory base.
inline constexpr uint64_t kQueueDeviceAddr = 0x140000000;

}  // namespace vmemcheck::fuzz
