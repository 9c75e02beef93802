// kiln/nn/loss_detail.h: checks and helpers shared by the loss implementations (nn/loss*.cpp). Private
// to nn/: not part of nn.h and not for user code. Depends on autograd/ops.h.
#pragma once

#include <cstdint>

#include "kiln/nn/loss.h"

namespace kiln::nn::detail {

// Applies `reduction` to a per-element loss; batchmean (kl_div's own) is a kiln::Error naming `op`.
Tensor reduce_loss(const Tensor& loss, Reduction reduction, const char* op);

// `t` is defined (else: "<op>: <what> is undefined").
void check_defined(const char* op, const Tensor& t, const char* what);
// `t` is f32 or f64.
void check_floating(const char* op, const Tensor& t, const char* what);
// Same shape and dtype for the input and target of an elementwise loss; names both in the message.
void check_pair(const char* op, const Tensor& input, const Tensor& target, const char* input_name = "input",
                const char* target_name = "target");
// An optional weight (undefined = none) that must broadcast to `shape` without growing it, in `dtype`.
void check_broadcast_weight(const char* op, const Tensor& weight, const Tensor& input, const char* what);

// log(x) clamped below at -100 (PyTorch's BCE rule). The gradient is 1/x above the clamp and 0 below it,
// never NaN: x at or below exp(-100) (0 included) never reaches log's backward.
Tensor clamped_log(const Tensor& x);

// A 0-d tensor holding `value` with like's dtype and device.
Tensor scalar_as(double value, const Tensor& like);

}  // namespace kiln::nn::detail
