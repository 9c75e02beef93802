// kiln/nn/conv.h: Conv1d, Conv2d and ConvTranspose2d, over the conv ops of autograd/ops.h. Weights start
// as PyTorch's do (kaiming_uniform with a = sqrt(5); bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))).
// Depends on nn/module.h.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "kiln/nn/module.h"

namespace kiln::nn {

// A 2-D size given as one number (square) or {h, w}: kernel sizes, strides, dilations.
struct Size2 {
  int64_t h = 0, w = 0;
  Size2(int64_t k = 0) : h(k), w(k) {}  // NOLINT: implicit so `.stride = 2` reads naturally
  Size2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  std::array<int64_t, 2> arr() const { return {h, w}; }
};

// Padding given as a number, {h, w}, or "same" / "valid" (PyTorch's strings; "same" needs stride 1 and
// pads the extra element on the bottom/right when the total is odd).
struct Padding2 {
  int64_t h = 0, w = 0;
  bool same = false;
  Padding2(int64_t p = 0) : h(p), w(p) {}  // NOLINT
  Padding2(int64_t h_, int64_t w_) : h(h_), w(w_) {}
  // A string literal: "same" or "valid". (An array reference, so that a literal 0 picks the number.)
  template <std::size_t N>
  Padding2(const char (&mode)[N]) : Padding2(std::string_view(mode, N - 1)) {}  // NOLINT
  explicit Padding2(std::string_view mode);
};

struct Conv1dOptions {
  int64_t stride = 1;
  Padding2 padding = 0;  // only .w is used; "same" allowed
  int64_t dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

// x (N, C_in, L) -> (N, C_out, L_out); weight (C_out, C_in/groups, K).
class Conv1d : public Module {
 public:
  Conv1d(int64_t in_channels, int64_t out_channels, int64_t kernel_size, Conv1dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv1d"; }
  std::string extra_repr() const override;
  int64_t in_channels, out_channels, kernel_size;
  Conv1dOptions options;
  Tensor weight, bias;
};

struct Conv2dOptions {
  Size2 stride = 1;
  Padding2 padding = 0;
  Size2 dilation = 1;
  int64_t groups = 1;
  bool bias = true;
};

// x (N, C_in, H, W) -> (N, C_out, H_out, W_out); weight (C_out, C_in/groups, kH, kW).
class Conv2d : public Module {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, Conv2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "Conv2d"; }
  std::string extra_repr() const override;
  int64_t in_channels, out_channels;
  Size2 kernel_size;
  Conv2dOptions options;
  Tensor weight, bias;
};

struct ConvTranspose2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 output_padding = 0;
  int64_t groups = 1;
  bool bias = true;
  Size2 dilation = 1;
};

// The gradient of Conv2d with respect to its input, as a layer (upsampling); weight (C_in, C_out/groups,
// kH, kW).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size,
                  ConvTranspose2dOptions options = {});
  Tensor forward(const Tensor& x) override;
  std::string type_name() const override { return "ConvTranspose2d"; }
  std::string extra_repr() const override;
  int64_t in_channels, out_channels;
  Size2 kernel_size;
  ConvTranspose2dOptions options;
  Tensor weight, bias;
};

}  // namespace kiln::nn
