// The random layer: the counter-based Philox4x32-10 generator and the uniform and normal fills built on it.
#pragma once

#include "attractor/random/philox.hpp"
