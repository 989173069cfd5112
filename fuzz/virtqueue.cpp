// fuzz_virtqueue: a driver writing descriptors, indirect tables, requests and
// the available ring into guest RAM (mostly well-formed, sometimes not), then
// kicks and virtio resets. The device must answer like the model or stop in
// its error state; ASan watches that it never reads outside guest RAM.
#include "check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vmemcheck::fuzz::run_checked(vmemcheck::fuzz::Target::Virtqueue, {data, size});
  return 0;
}
