// kiln/kernels/shared/host_device.h: KILN_HOST_DEVICE marks a function that both backends compile: the
// host compiler for kernels/cpu/ and nvcc for kernels/cuda/, so a formula written once runs on both. The
// same definition as tensor/half.h's (Half's conversions run on both sides too), so either header may
// come first; a function that is neither a template nor constexpr adds `inline`.
#pragma once

// tensor/half.h defines the macro without `inline` for its in-class members; it is included first and the
// macro replaced here, so the two headers can be included in either order without a redefinition.
#include "kiln/tensor/half.h"

#undef KILN_HOST_DEVICE
#if defined(__CUDACC__)
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HOST_DEVICE
#endif
