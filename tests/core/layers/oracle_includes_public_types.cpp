// Must compile: what the oracle reads, the machine and the device's public types.
#include "device_config.hpp"
#include "machine.hpp"
#include "wire.hpp"
