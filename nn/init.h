// kiln/nn/init.h: parameter initializers with PyTorch's formulas (torch.nn.init), all drawing from kiln's
// default generator so `kiln::manual_seed` makes a model's initial weights reproducible. Each fills the
// tensor in place without recording a graph and returns it. Fans follow PyTorch: for a (out, in, k...)
// weight, fan_in = in * prod(k), fan_out = out * prod(k). Depends on tensor and autograd.
#pragma once

#include <string>

#include "kiln/tensor/tensor.h"

namespace kiln::nn::init {

enum class FanMode { fan_in, fan_out };

// The recommended gain for a nonlinearity: "linear", "conv1d", "conv2d", "sigmoid" -> 1, "tanh" -> 5/3,
// "relu" -> sqrt(2), "leaky_relu" -> sqrt(2 / (1 + param^2)), "selu" -> 3/4. Unknown names throw.
double calculate_gain(const std::string& nonlinearity, double param = 0.01);
// {fan_in, fan_out}; needs at least 2 dims.
std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t);

Tensor& uniform_(Tensor& t, double low = 0.0, double high = 1.0);
Tensor& normal_(Tensor& t, double mean = 0.0, double std = 1.0);
Tensor& constant_(Tensor& t, double value);
Tensor& zeros_(Tensor& t);
Tensor& ones_(Tensor& t);
Tensor& xavier_uniform_(Tensor& t, double gain = 1.0);
Tensor& xavier_normal_(Tensor& t, double gain = 1.0);
// a: the negative slope of leaky_relu (PyTorch's layers use a = sqrt(5) for their default init).
Tensor& kaiming_uniform_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                         const std::string& nonlinearity = "leaky_relu");
Tensor& kaiming_normal_(Tensor& t, double a = 0.0, FanMode mode = FanMode::fan_in,
                        const std::string& nonlinearity = "leaky_relu");
// A (semi-)orthogonal matrix from the QR decomposition of a normal draw (rows flattened as in PyTorch).
Tensor& orthogonal_(Tensor& t, double gain = 1.0);

}  // namespace kiln::nn::init
