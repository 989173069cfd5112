// An owned file descriptor, closed when it goes: the /dev/kvm handles
// (kvm/) and a QEMU process's sockets (qemu/) hold theirs in one.
#pragma once

namespace vmemcheck {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(Fd&& other) noexcept : fd_(other.release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();

 private:
  int fd_ = -1;
};

}  // namespace vmemcheck
