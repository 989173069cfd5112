// fuzz_ops: structured op sequences over one to three devices of every
// memslot mode (plug, unplug, state, unplug-all, resize, resets, busy,
// backend faults, migrations between modes, raw chains, guest accesses,
// hot-remove, vhost), each step checked against the reference model and the
// invariants.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vmemcheck::fuzz::run_checked(vmemcheck::fuzz::Target::Ops, {data, size});
  return 0;
}
