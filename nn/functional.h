// kiln/nn/functional.h: nn::functional, the stateless forms of the layers (PyTorch's torch.nn.functional):
// the activation, convolution, pooling, normalization and dropout ops of autograd/ops.h under their usual
// names, plus the losses of nn/loss.h. `namespace F = kiln::nn::functional;` then F::relu, F::conv2d,
// F::cross_entropy. Depends on autograd/ops.h and nn/loss.h.
#pragma once

#include "kiln/autograd/ops.h"
#include "kiln/nn/loss.h"

namespace kiln::nn::functional {

using kiln::adaptive_avg_pool2d;
using kiln::avg_pool2d;
using kiln::batch_norm;
using kiln::conv1d;
using kiln::conv2d;
using kiln::conv_transpose2d;
using kiln::dropout;
using kiln::dropout2d;
using kiln::embedding;
using kiln::gelu;
using kiln::group_norm;
using kiln::layer_norm;
using kiln::leaky_relu;
using kiln::linear;
using kiln::log_softmax;
using kiln::max_pool2d;
using kiln::one_hot;
using kiln::pad;
using kiln::relu;
using kiln::sigmoid;
using kiln::silu;
using kiln::softmax;
using kiln::softplus;
using kiln::tanh;

}  // namespace kiln::nn::functional
