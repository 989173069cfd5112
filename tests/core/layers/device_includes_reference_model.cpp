// Must not compile: the device knows nothing of the oracle that judges it.
#include "reference_model.hpp"
