// The systems layer: the stepper concept, dynamical systems and their integrators.
#pragma once

#include "attractor/systems/lorenz63.hpp"
#include "attractor/systems/lorenz96.hpp"
#include "attractor/systems/rk4.hpp"
#include "attractor/systems/stepper.hpp"
