// The nn layer: parameters, PyTorch-equivalent initialisation, linear layers, the sinusoidal time embedding, the
// paper's denoising ResNet, Adam and EMA, and checkpoints of module parameters (the safetensors format is in io/).
#pragma once

#include "attractor/nn/checkpoint.hpp"
#include "attractor/nn/conv2d.hpp"
#include "attractor/nn/denoising_resnet.hpp"
#include "attractor/nn/embedding.hpp"
#include "attractor/nn/fit.hpp"
#include "attractor/nn/group_norm.hpp"
#include "attractor/nn/init.hpp"
#include "attractor/nn/linear.hpp"
#include "attractor/nn/optim.hpp"
#include "attractor/nn/parameter.hpp"
#include "attractor/nn/unet.hpp"
