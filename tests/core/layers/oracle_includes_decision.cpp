// Must not compile: the oracle may not share the device's decision arithmetic.
#include "decision.hpp"
