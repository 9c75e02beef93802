// kiln/kernels/cpu/cpu_kernels.h: the CPU implementations behind the kernel table (tensor/backend.h).
// kiln::cpu has one function per slot, named and typed as the slot, with its contract: f16/bf16 operands
// are computed in f32 and rounded once on store (reduced_float.cpp), where, copy, fill, gather and
// index_select move Half/BFloat16 elements directly. kiln::cpu::native holds the f32/f64/integer kernels
// that reduced_float.cpp wraps; each has the contract of the slot of the same name for those dtypes.
#pragma once

#include "kiln/tensor/backend.h"

namespace kiln::cpu {

KILN_DECLARE_BACKEND_KERNELS()

// The optimizer steps' dtypes (optim_step.cpp), by OptimKernel code.
bool optim_supports(int code, DType t);

namespace native {
KILN_DECLARE_KERNEL(unary)
KILN_DECLARE_KERNEL(binary)
KILN_DECLARE_KERNEL(reduce)
KILN_DECLARE_KERNEL(gemm)
KILN_DECLARE_KERNEL(scatter_add)
KILN_DECLARE_KERNEL(random)
KILN_DECLARE_KERNEL(conv2d)
KILN_DECLARE_KERNEL(conv2d_backward_data)
KILN_DECLARE_KERNEL(conv2d_backward_filter)
KILN_DECLARE_KERNEL(max_pool2d)
KILN_DECLARE_KERNEL(max_pool2d_backward)
}  // namespace native

}  // namespace kiln::cpu
