// Must not compile: the device knows nothing of the scenario machinery.
#include "scenario.hpp"
