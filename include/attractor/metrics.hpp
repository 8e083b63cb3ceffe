// The metrics layer: the scores of a generated set of states against a reference set (spec §5): the Hellinger
// distance on a grid of cubes and its floor, the Fréchet surrogate distance with its feature network, the
// nearest-neighbour distances d_gen and d_test, peak over threshold, and an evaluator that computes them all.
// For the cuda backend, a .cu file includes attractor/cuda.cuh as well.
#pragma once

#include "attractor/metrics/check.hpp"
#include "attractor/metrics/evaluate.hpp"
#if __has_include(<fftw3.h>)
#include "attractor/metrics/fields.hpp"  // spectra through the FFTs: a program that calls them links attractor::fftw
#endif
#include "attractor/metrics/frechet.hpp"
#include "attractor/metrics/hellinger.hpp"
#include "attractor/metrics/histogram.hpp"
#include "attractor/metrics/kd_tree.hpp"
#include "attractor/metrics/nearest.hpp"
#include "attractor/metrics/pot.hpp"
#include "attractor/metrics/sample.hpp"
#include "attractor/metrics/surrogate.hpp"
