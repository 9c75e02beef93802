// kiln/optim/clip_grad.h: gradient clipping with the semantics of PyTorch 1.13's
// torch.nn.utils.clip_grad_norm_ (error_if_nonfinite = false) and clip_grad_value_. Parameters whose grad is
// undefined are skipped. Both write into the existing gradient tensors. Depends on tensor.h.
#pragma once

#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::optim {

// Scales every gradient by min(1, max_norm / (total_norm + 1e-6)), where total_norm is the norm_type-norm
// of all gradients taken together (norm_type = infinity: the largest |element|; 0: the count of non-zeros).
// Returns total_norm (0 when no parameter has a gradient). A non-finite total norm is not an error: the
// gradients are scaled as the formula says (so NaN or infinity spreads into them), as PyTorch does.
// Throws kiln::Error for max_norm < 0 or norm_type < 0 (other than -infinity, the smallest |element|).
// Gradients on several devices are a kiln::Error naming two of them. On CUDA, returning the norm as a
// double reads the device (a synchronization); clip_grad_norm_tensor_ does not.
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// The same clipping, returning total_norm as an f64 0-d tensor on the gradients' device (PyTorch's return
// type): on CUDA nothing waits for the device until the caller reads it. A CPU 0-d tensor when no
// parameter has a gradient.
Tensor clip_grad_norm_tensor_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0);

// Clamps every gradient element into [-clip_value, clip_value]; throws kiln::Error for clip_value < 0 or
// gradients on several devices.
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace kiln::optim
