// The data-assimilation layer: observations, ETKF, EnOI with static or external ensembles, 3D-Var, ensemble
// sources, and cycled twin experiments.
#pragma once

#include "attractor/da/analysis.hpp"
#include "attractor/da/covariance.hpp"
#include "attractor/da/diffusion_source.hpp"
#include "attractor/da/enoi.hpp"
#include "attractor/da/etkf.hpp"
#include "attractor/da/observations.hpp"
#include "attractor/da/sources.hpp"
#include "attractor/da/twin.hpp"
#include "attractor/da/var3d.hpp"
