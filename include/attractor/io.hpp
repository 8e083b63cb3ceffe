// The io layer: checked file reads and atomic writes, .npy arrays and safetensors files.
#pragma once

#include "attractor/io/file.hpp"
#include "attractor/io/npy.hpp"
#include "attractor/io/safetensors.hpp"
#include "attractor/io/scan.hpp"
