// The diffusion layer: noise schedules, output parameterisations, training and sampling (DDPM), and the
// variance-exploding SDE of the score-based response: score matching, VE samplers, network scores.
#pragma once

#include "attractor/diffusion/ddpm_objective.hpp"
#include "attractor/diffusion/denoiser.hpp"
#include "attractor/diffusion/network_denoiser.hpp"
#include "attractor/diffusion/network_score.hpp"
#include "attractor/diffusion/parameterisation.hpp"
#include "attractor/diffusion/sampler.hpp"
#include "attractor/diffusion/schedule.hpp"
#include "attractor/diffusion/score_matching.hpp"
#include "attractor/diffusion/score_network.hpp"
#include "attractor/diffusion/trainer.hpp"
#include "attractor/diffusion/ve_sampler.hpp"
#include "attractor/diffusion/ve_sde.hpp"
