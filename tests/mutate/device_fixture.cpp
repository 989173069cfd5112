// scripts/mutate's own test (mutate_test.py) finds its mutation points here:
// a device in miniature, written like core/device/device.cpp, so that the
// tool's test depends on the tool alone. Were it to read device.cpp, a
// mutant that merely changes device.cpp's text would fail it, and a test of
// the tool would count as a check of the device. Parsed, never compiled.
#include <cassert>
#include <cstdint>

namespace vmemcheck {

struct Status {
  bool ok;
};
inline Status ok_status() { return {true}; }
enum class ResponseType { Ack, Nack, Busy, Error };

struct Backend {
  Status discard(uint64_t offset, uint64_t size);
};

class Device {
 public:
  ResponseType plug(uint64_t size);
  ResponseType unplug(uint64_t offset, uint64_t size);

 private:
  uint64_t plugged_size() const { return plugged_; }
  Backend backend_;
  uint64_t plugged_ = 0;
  uint64_t requested_ = 0;
};

ResponseType Device::plug(uint64_t size) {
  assert(size != 0);
  if (plugged_size() + size > requested_) return ResponseType::Nack;
  plugged_ += size;
  return ResponseType::Ack;
}

ResponseType Device::unplug(uint64_t offset, uint64_t size) {
  if (!backend_.discard(offset, size).ok) return ResponseType::Busy;
  plugged_ -= size;
  return ResponseType::Ack;
}

}  // namespace vmemcheck
