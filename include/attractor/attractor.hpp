// Everything in attractor that compiles with a plain C++20 compiler. For the cuda backend, a .cu file includes
// attractor/cuda.cuh as well.
#pragma once

#include "attractor/autograd.hpp"
#include "attractor/backend.hpp"
#include "attractor/core.hpp"
#include "attractor/da.hpp"
#include "attractor/diffusion.hpp"
#include "attractor/io.hpp"
#include "attractor/metrics.hpp"
#include "attractor/nn.hpp"
#include "attractor/random.hpp"
#include "attractor/systems.hpp"
#include "attractor/tensor.hpp"
#include "attractor/transfer.hpp"
#if __has_include(<fftw3.h>)
// The spectral SPDEs and the response functions transform with FFTW: a program that calls them links attractor::fftw.
#include "attractor/response.hpp"
#include "attractor/systems/spectral.hpp"
#endif
