// The response layer: lag correlations, the Gaussian, score-based and dynamical responses, and their errors
// (spec response-theory §5-§7, §9, §12). Programs that include it link attractor::fftw (cpu); on cuda, include
// attractor/backend/cuda/fft.cuh and link attractor::cufft.
#pragma once

#include "attractor/response/dynamical.hpp"
#include "attractor/response/errors.hpp"
#include "attractor/response/gaussian.hpp"
#include "attractor/response/lag_correlation.hpp"
#include "attractor/response/normalise.hpp"
#include "attractor/response/score_based.hpp"
