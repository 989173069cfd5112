// fuzz_layout: the memslot layout decision and the machine-wide budget over
// random geometry (1 MiB..1 GiB blocks, regions up to 16 TiB, small and large
// KVM limits, vhost backends, devices added, plugged, migrated and removed);
// invariant 5 and the model's independent layout are checked every step.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vmemcheck::fuzz::run_checked(vmemcheck::fuzz::Target::Layout, {data, size});
  return 0;
}
