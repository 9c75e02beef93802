// kiln/nn/linear.h: Linear, Identity, Flatten and Unflatten. Depends on nn/module.h.
#pragma once

#include <cstdint>

#include "kiln/nn/module.h"
#include "kiln/tensor/activation.h"

namespace kiln::nn {

// y = x W^T + b. x (N, ..., in_features) -> (N, ..., out_features). Weight (out, in) and bias (out) start
// as PyTorch's do: U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with a = sqrt(5) for the weight).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  // act(forward(x)) with the bias and the activation in one pass (Sequential uses it for a Linear followed
  // by an activation module); negative_slope is leaky_relu's.
  Tensor forward_activated(const Tensor& x, Activation act, double negative_slope = 0.01);
  std::string type_name() const override { return "Linear"; }
  std::string extra_repr() const override;
  void reset_parameters();

  int64_t in_features, out_features;
  Tensor weight, bias;  // bias undefined when built without one
};

class Identity : public Module {
 public:
  Tensor forward(const Tensor& x) override { return x; }
  std::string type_name() const override { return "Identity"; }
};

// Flattens dims start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default.
class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : start_dim(start_dim), end_dim(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_dim, end_dim); }
  std::string type_name() const override { return "Flatten"; }
  std::string extra_repr() const override;
  int64_t start_dim, end_dim;
};

// Splits dim into `sizes`: Unflatten(1, {1, 28, 28}) takes (N, 784) to (N, 1, 28, 28).
class Unflatten : public Module {
 public:
  Unflatten(int64_t dim, Shape sizes) : dim(dim), sizes(std::move(sizes)) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Unflatten"; }
  std::string extra_repr() const override;
  int64_t dim;
  Shape sizes;
};

}  // namespace kiln::nn
