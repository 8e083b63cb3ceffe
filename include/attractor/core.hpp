// The core layer: configuration, errors, scalar traits.
#pragma once

#include "attractor/core/config.hpp"
#include "attractor/core/error.hpp"
#include "attractor/core/scalar_traits.hpp"
