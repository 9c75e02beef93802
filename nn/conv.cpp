// nn/conv.cpp: the convolution layers. "same" padding that cannot be split evenly is applied with pad()
// before the convolution, as PyTorch does. Depends on autograd ops and nn/init.
#include "kiln/nn/conv.h"

#include <cmath>
#include <sstream>

#include "kiln/autograd/ops.h"
#include "kiln/nn/init.h"

namespace kiln::nn {
namespace {

// PyTorch's default for conv weights and biases; fan_in from the weight's own dims.
void reset_conv(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    auto [fan_in, fan_out] = init::calculate_fan_in_and_fan_out(weight);
    double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
    init::uniform_(bias, -bound, bound);
  }
}

void check_channels(const char* layer, int64_t in, int64_t out, int64_t groups) {
  KILN_CHECK(in > 0 && out > 0 && groups > 0, layer, ": channels and groups must be positive, got in=", in,
             ", out=", out, ", groups=", groups);
  KILN_CHECK(in % groups == 0 && out % groups == 0, layer, ": in_channels (", in, ") and out_channels (", out,
             ") must both be divisible by groups (", groups, ")");
}

// Padding "same" for one dim: total = dilation * (k - 1), split low/high with the extra element high.
std::pair<int64_t, int64_t> same_split(int64_t k, int64_t dilation) {
  int64_t total = dilation * (k - 1);
  return {total / 2, total - total / 2};
}

}  // namespace

Padding2::Padding2(std::string_view mode) {
  if (mode == "same") {
    same = true;
  } else {
    KILN_CHECK(mode == "valid", "conv padding: unknown mode '", mode,
               "' (a number, {h, w}, \"same\" or \"valid\")");
  }
}

Conv1d::Conv1d(int64_t in, int64_t out, int64_t k, Conv1dOptions o)
    : in_channels(in), out_channels(out), kernel_size(k), options(o) {
  check_channels("Conv1d", in, out, o.groups);
  KILN_CHECK(!o.padding.same || o.stride == 1, "Conv1d: padding=\"same\" needs stride 1, got ", o.stride);
  weight = register_parameter("weight", empty({out, in / o.groups, k}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_conv(weight, bias);
}

Tensor Conv1d::forward(const Tensor& x) {
  if (!options.padding.same)
    return conv1d(x, weight, bias, options.stride, options.padding.w, options.dilation, options.groups);
  auto [lo, hi] = same_split(kernel_size, options.dilation);
  if (lo == hi) return conv1d(x, weight, bias, 1, lo, options.dilation, options.groups);
  return conv1d(pad(x, {lo, hi}), weight, bias, 1, 0, options.dilation, options.groups);
}

std::string Conv1d::extra_repr() const {
  std::ostringstream os;
  os << in_channels << ", " << out_channels << ", kernel_size=" << kernel_size
     << ", stride=" << options.stride;
  if (options.padding.same) os << ", padding=same";
  if (!options.padding.same && options.padding.w) os << ", padding=" << options.padding.w;
  if (options.dilation != 1) os << ", dilation=" << options.dilation;
  if (options.groups != 1) os << ", groups=" << options.groups;
  if (!options.bias) os << ", bias=false";
  return os.str();
}

Conv2d::Conv2d(int64_t in, int64_t out, Size2 k, Conv2dOptions o)
    : in_channels(in), out_channels(out), kernel_size(k), options(o) {
  check_channels("Conv2d", in, out, o.groups);
  KILN_CHECK(k.h > 0 && k.w > 0, "Conv2d: kernel size must be positive, got (", k.h, ", ", k.w, ")");
  KILN_CHECK(!o.padding.same || (o.stride.h == 1 && o.stride.w == 1),
             "Conv2d: padding=\"same\" needs stride 1, got (", o.stride.h, ", ", o.stride.w, ")");
  weight = register_parameter("weight", empty({out, in / o.groups, k.h, k.w}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_conv(weight, bias);
}

Tensor Conv2d::forward(const Tensor& x) {
  const auto& o = options;
  if (!o.padding.same)
    return conv2d(x, weight, bias, o.stride.arr(), {o.padding.h, o.padding.w}, o.dilation.arr(), o.groups);
  auto [top, bottom] = same_split(kernel_size.h, o.dilation.h);
  auto [left, right] = same_split(kernel_size.w, o.dilation.w);
  if (top == bottom && left == right)
    return conv2d(x, weight, bias, {1, 1}, {top, left}, o.dilation.arr(), o.groups);
  return conv2d(pad(x, {left, right, top, bottom}), weight, bias, {1, 1}, {0, 0}, o.dilation.arr(), o.groups);
}

std::string Conv2d::extra_repr() const {
  std::ostringstream os;
  const auto& o = options;
  os << in_channels << ", " << out_channels << ", kernel_size=(" << kernel_size.h << ", " << kernel_size.w
     << "), stride=(" << o.stride.h << ", " << o.stride.w << ")";
  if (o.padding.same) os << ", padding=same";
  if (!o.padding.same && (o.padding.h || o.padding.w))
    os << ", padding=(" << o.padding.h << ", " << o.padding.w << ")";
  if (o.dilation.h != 1 || o.dilation.w != 1)
    os << ", dilation=(" << o.dilation.h << ", " << o.dilation.w << ")";
  if (o.groups != 1) os << ", groups=" << o.groups;
  if (!o.bias) os << ", bias=false";
  return os.str();
}

ConvTranspose2d::ConvTranspose2d(int64_t in, int64_t out, Size2 k, ConvTranspose2dOptions o)
    : in_channels(in), out_channels(out), kernel_size(k), options(o) {
  check_channels("ConvTranspose2d", in, out, o.groups);
  weight = register_parameter("weight", empty({in, out / o.groups, k.h, k.w}));
  if (o.bias) bias = register_parameter("bias", empty({out}));
  reset_conv(weight, bias);
}

Tensor ConvTranspose2d::forward(const Tensor& x) {
  const auto& o = options;
  return conv_transpose2d(x, weight, bias, o.stride.arr(), o.padding.arr(), o.output_padding.arr(), o.groups,
                          o.dilation.arr());
}

std::string ConvTranspose2d::extra_repr() const {
  std::ostringstream os;
  const auto& o = options;
  os << in_channels << ", " << out_channels << ", kernel_size=(" << kernel_size.h << ", " << kernel_size.w
     << "), stride=(" << o.stride.h << ", " << o.stride.w << ")";
  if (o.padding.h || o.padding.w) os << ", padding=(" << o.padding.h << ", " << o.padding.w << ")";
  if (o.output_padding.h || o.output_padding.w)
    os << ", output_padding=(" << o.output_padding.h << ", " << o.output_padding.w << ")";
  if (o.groups != 1) os << ", groups=" << o.groups;
  if (!o.bias) os << ", bias=false";
  return os.str();
}

}  // namespace kiln::nn
