// The nn layer: parameters, PyTorch-equivalent initialisation, linear layers, the sinusoidal time embedding, the
// paper's denoising ResNet, Adam and EMA, and safetensors checkpoints.
#pragma once

#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/nn/embedding.hpp"
#include "attractor/nn/init.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/nn/parameter.hpp"
#include "attractor/nn/safetensors.hpp"
