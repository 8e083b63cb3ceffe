// The transfer-learning layer (spec §6): a trained denoiser's internal features at chosen pseudo-times as inputs of
// small surrogate heads, and what the paper compares them with. Feature maps (the frozen backbone, random Fourier
// features), the streamed ridge regression, the MLP head and the from-scratch baselines trained through nn::fit,
// roll-outs of the additive surrogate x + g(x) and their scores (nRMSE by lead, Hellinger at late leads). For the
// cuda backend, a .cu file includes attractor/cuda.cuh as well.
#pragma once

#include "attractor/transfer/baselines.hpp"
#include "attractor/transfer/features.hpp"
#include "attractor/transfer/mlp_head.hpp"
#include "attractor/transfer/network_map.hpp"
#include "attractor/transfer/objective.hpp"
#include "attractor/transfer/pairs.hpp"
#include "attractor/transfer/random_fourier.hpp"
#include "attractor/transfer/ridge.hpp"
#include "attractor/transfer/rollout.hpp"
#include "attractor/transfer/row_map.hpp"
#include "attractor/transfer/scores.hpp"
