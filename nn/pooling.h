// kiln/nn/pooling.h: MaxPool2d, AvgPool2d and AdaptiveAvgPool2d over the pooling ops of autograd/ops.h.
// Depends on nn/module.h and nn/conv.h (Size2).
#pragma once

#include "kiln/nn/conv.h"
#include "kiln/nn/module.h"

namespace kiln::nn {

struct MaxPool2dOptions {
  Size2 stride = 0;  // 0: the kernel size (PyTorch's default)
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

// x (N, C, H, W) -> (N, C, H_out, W_out).
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Size2 kernel_size, MaxPool2dOptions options = {})
      : kernel_size(kernel_size), options(options) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "MaxPool2d"; }
  std::string extra_repr() const override;
  Size2 kernel_size;
  MaxPool2dOptions options;
};

struct AvgPool2dOptions {
  Size2 stride = 0;  // 0: the kernel size
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Size2 kernel_size, AvgPool2dOptions options = {})
      : kernel_size(kernel_size), options(options) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AvgPool2d"; }
  std::string extra_repr() const override;
  Size2 kernel_size;
  AvgPool2dOptions options;
};

// Averages over input regions chosen so the output is exactly output_size (PyTorch's region rule).
class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size) : output_size(output_size) {}
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  std::string extra_repr() const override;
  Size2 output_size;
};

}  // namespace kiln::nn
