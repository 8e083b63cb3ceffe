// The spectral systems (systems/spectral/): periodic 2-D pseudo-spectral SPDEs, Ornstein-Uhlenbeck, Allen-Cahn and
// Navier-Stokes, as steppers. They transform with backend/fft.hpp, so a program that includes them links FFTW
// (attractor::fftw) on cpu; systems.hpp does not include them.
#pragma once

#include "attractor/systems/spectral/allen_cahn.hpp"
#include "attractor/systems/spectral/grid.hpp"
#include "attractor/systems/spectral/navier_stokes.hpp"
#include "attractor/systems/spectral/ornstein_uhlenbeck.hpp"
#include "attractor/systems/spectral/sde.hpp"
