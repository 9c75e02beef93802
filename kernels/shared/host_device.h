// kiln/kernels/shared/host_device.h: KILN_HOST_DEVICE marks a function that both backends compile: the
// host compiler for kernels/cpu/ and nvcc for kernels/cuda/, so a formula written once runs on both.
#pragma once

// tensor/half.h defines the macro without `inline` for its in-class members; it is included first and the
// macro replaced here, so the two headers can be included in either order without a redefinition.
#include "kiln/tensor/half.h"

#undef KILN_HOST_DEVICE
#if defined(__CUDACC__)
#define KILN_HOST_DEVICE __host__ __device__ inline
#else
#define KILN_HOST_DEVICE inline
#endif
