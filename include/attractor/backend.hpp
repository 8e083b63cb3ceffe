// The backend layer, cpu side: tags, contexts, buffers, copies and the primitive kernels. The cuda side is
// attractor/cuda.cuh.
#pragma once

#include "attractor/backend/context.hpp"
#include "attractor/backend/copy.hpp"
#include "attractor/backend/fft_dims.hpp"
#if __has_include(<fftw3.h>)
#include "attractor/backend/fft.hpp"  // the FFTs; a program that calls them links attractor::fftw
#endif
#include "attractor/backend/for_each.hpp"
#include "attractor/backend/gemm.hpp"
#include "attractor/backend/map.hpp"
#include "attractor/backend/memory.hpp"
#include "attractor/backend/reduce.hpp"
#include "attractor/backend/segment_sum.hpp"
#include "attractor/backend/tags.hpp"
