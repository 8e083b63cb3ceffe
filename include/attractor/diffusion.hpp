// The diffusion layer: noise schedules, output parameterisations, training and sampling.
#pragma once

#include "attractor/diffusion/ddpm_objective.hpp"
#include "attractor/diffusion/denoiser.hpp"
#include "attractor/diffusion/network_denoiser.hpp"
#include "attractor/diffusion/parameterisation.hpp"
#include "attractor/diffusion/sampler.hpp"
#include "attractor/diffusion/schedule.hpp"
#include "attractor/diffusion/trainer.hpp"
