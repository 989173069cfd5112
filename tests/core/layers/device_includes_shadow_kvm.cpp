// Must not compile: the device sees KVM only through its MemslotBackend interface.
#include "shadow_kvm.hpp"
