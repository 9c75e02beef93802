// Convolutions: conv2d (primitive, bias fused into the kernel), conv1d (conv2d on a height-1 view) and
// conv_transpose2d (conv2d's backward-data kernel run forward). Three recorded ops close under
// differentiation, so gradients of any order work: with y = conv(x, w), D(g, w) = dL/dx and W(x, g) = dL/dw,
//   conv(x, w):  dx = D(g, w),        dw = W(x, g)       (and db = g summed over N, H, W)
//   D(g, w):     dg = conv(u, w),     dw = W(u, g)     (u: the gradient reaching D's output)
//   W(x, g):     dx = D(g, v),        dg = conv(x, v)  (v: the gradient reaching W's output)
// Depends on ops/common.h and the kernel table's conv2d entries.
#include <sstream>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

std::string int2_str(Int2 v) {
  std::ostringstream os;
  os << "(" << v[0] << ", " << v[1] << ")";
  return os.str();
}

void check_conv_operands(const char* op, const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_defined(op, x);
  check_defined(op, weight, "weight");
  check_same_device(op, {&x, &weight, &bias});
  check_floating(op, x);
  check_same_dtype(op, x, weight);
  if (bias.defined()) check_same_dtype(op, x, bias);
  check_supported(ConvKernel::conv2d, x.dtype(), x.device(), op);
}

Tensor raw(const Tensor& t) { return contiguous(t.detach()); }

Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a);
Tensor conv_backward_data(const Tensor& g, const Tensor& w, const Conv2dArgs& a);
Tensor conv_backward_filter(const Tensor& x, const Tensor& g, const Conv2dArgs& a);

// sum(g, {0, 2, 3}) as two reductions over adjacent dims, which a contiguous g serves without the
// permuted copy that one reduction over non-adjacent dims makes.
Tensor bias_grad(const Tensor& g) { return sum(sum(g, {2, 3}), {0}); }

// b (C_out) may be undefined; its gradient is g summed over everything but channels.
Tensor conv_forward(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dArgs& a) {
  Tensor out = empty({a.n, a.c_out, a.h_out, a.w_out}, {.dtype = x.dtype(), .device = x.device()});
  if (out.numel() > 0) backend(x.device()).conv2d(a, raw(x), raw(w), b.defined() ? raw(b) : Tensor(), out);
  if (autograd::needs_grad({&x, &w, &b})) {
    record(
        "conv2d", {x, w, b}, out,
        [x, w, b, a](const Tensor& g, const Tensor&) {
          return Grads{x.requires_grad() ? conv_backward_data(g, w, a) : Tensor(),
                       w.requires_grad() ? conv_backward_filter(x, g, a) : Tensor(),
                       b.defined() && b.requires_grad() ? bias_grad(g) : Tensor()};
        },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  return out;
}

Tensor conv_backward_data(const Tensor& g, const Tensor& w, const Conv2dArgs& a) {
  Tensor gx = empty({a.n, a.c_in, a.h, a.w}, {.dtype = g.dtype(), .device = g.device()});
  if (gx.numel() > 0) {
    if (g.numel() == 0 || w.numel() == 0) {
      gx.zero_();
    } else {
      backend(g.device()).conv2d_backward_data(a, raw(g), raw(w), gx);
    }
  }
  if (autograd::needs_grad({&g, &w})) {
    record(
        "conv2d_backward_data", {g, w}, gx,
        [g, w, a](const Tensor& u, const Tensor&) {
          return Grads{g.requires_grad() ? conv_forward(u, w, Tensor(), a) : Tensor(),
                       w.requires_grad() ? conv_backward_filter(u, g, a) : Tensor()};
        },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  return gx;
}

Tensor conv_backward_filter(const Tensor& x, const Tensor& g, const Conv2dArgs& a) {
  Tensor gw = empty({a.c_out, a.c_in / a.groups, a.kh, a.kw}, {.dtype = x.dtype(), .device = x.device()});
  if (gw.numel() > 0) backend(x.device()).conv2d_backward_filter(a, raw(x), raw(g), gw);
  if (autograd::needs_grad({&x, &g})) {
    record(
        "conv2d_backward_filter", {x, g}, gw,
        [x, g, a](const Tensor& v, const Tensor&) {
          return Grads{x.requires_grad() ? conv_backward_data(g, v, a) : Tensor(),
                       g.requires_grad() ? conv_forward(x, v, Tensor(), a) : Tensor()};
        },
        /*save_output=*/false, /*save_inputs=*/true);
  }
  return gw;
}

void check_bias(const char* op, const Tensor& bias, int64_t channels) {
  if (!bias.defined()) return;
  KILN_CHECK(bias.dim() == 1 && bias.size(0) == channels, op, ": bias ", shape_str(bias.shape()),
             " must be (", channels, ") to match the ", channels, " output channels");
}

Tensor add_channel_bias(const char* op, const Tensor& y, const Tensor& bias, int64_t channels) {
  if (!bias.defined()) return y;
  check_bias(op, bias, channels);
  Shape view(y.dim(), 1);
  view[1] = channels;
  return y + reshape(bias, view);
}

void check_positive(const char* op, const char* what, Int2 v, int64_t min, const Tensor& x) {
  KILN_CHECK(v[0] >= min && v[1] >= min, op, ": ", what, " must be ", (min > 0 ? "positive" : "non-negative"),
             ", got ", int2_str(v), " (input ", shape_str(x.shape()), ")");
}
}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Int2 stride, Int2 padding,
              Int2 dilation, int64_t groups) {
  return trace::traced(
      "conv2d",
      [&]() -> Tensor {
        const char* op = "conv2d";
        if (autocast::needs_lower({&x, &weight, &bias}))
          return conv2d(autocast::lower(x), autocast::lower(weight), autocast::lower(bias), stride, padding,
                        dilation, groups);
        check_conv_operands(op, x, weight, bias);
        KILN_CHECK(x.dim() == 4, op, ": input must be (N, C_in, H, W), got ", shape_str(x.shape()));
        KILN_CHECK(weight.dim() == 4, op, ": weight must be (C_out, C_in / groups, kH, kW), got ",
                   shape_str(weight.shape()));
        check_positive(op, "stride", stride, 1, x);
        check_positive(op, "dilation", dilation, 1, x);
        check_positive(op, "padding", padding, 0, x);
        KILN_CHECK(groups >= 1, op, ": groups must be positive, got ", groups, " (input ",
                   shape_str(x.shape()), ")");
        Conv2dArgs a;
        a.n = x.size(0), a.c_in = x.size(1), a.h = x.size(2), a.w = x.size(3);
        a.c_out = weight.size(0), a.kh = weight.size(2), a.kw = weight.size(3);
        KILN_CHECK(a.c_in % groups == 0 && a.c_out % groups == 0, op, ": input channels (", a.c_in,
                   ") and output channels (", a.c_out, ") must both be divisible by groups (", groups,
                   "); input ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
        KILN_CHECK(weight.size(1) * groups == a.c_in, op, ": weight ", shape_str(weight.shape()), " expects ",
                   weight.size(1) * groups, " input channels (", weight.size(1), " per group x ", groups,
                   " groups), but input ", shape_str(x.shape()), " has ", a.c_in);
        a.stride_h = stride[0], a.stride_w = stride[1], a.pad_h = padding[0], a.pad_w = padding[1];
        a.dil_h = dilation[0], a.dil_w = dilation[1], a.groups = groups;
        const int64_t eff_h = a.dil_h * (a.kh - 1) + 1, eff_w = a.dil_w * (a.kw - 1) + 1;
        KILN_CHECK(a.kh >= 1 && a.kw >= 1 && eff_h <= a.h + 2 * a.pad_h && eff_w <= a.w + 2 * a.pad_w, op,
                   ": kernel ", a.kh, "x", a.kw, " (dilation ", int2_str(dilation),
                   ") is larger than the padded input ", a.h + 2 * a.pad_h, "x", a.w + 2 * a.pad_w,
                   "; input ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()), ", padding ",
                   int2_str(padding));
        a.h_out = (a.h + 2 * a.pad_h - eff_h) / a.stride_h + 1;
        a.w_out = (a.w + 2 * a.pad_w - eff_w) / a.stride_w + 1;
        check_bias(op, bias, a.c_out);
        return conv_forward(x, weight, bias, a);
      },
      [&] {
        return trace::OpRecord{{x, weight, bias},
                               {{"stride", std::vector<int64_t>{stride[0], stride[1]}},
                                {"padding", std::vector<int64_t>{padding[0], padding[1]}},
                                {"dilation", std::vector<int64_t>{dilation[0], dilation[1]}},
                                {"groups", groups}}};
      });
}

Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding,
              int64_t dilation, int64_t groups) {
  const char* op = "conv1d";
  if (autocast::needs_lower({&x, &weight, &bias}))
    return conv1d(autocast::lower(x), autocast::lower(weight), autocast::lower(bias), stride, padding,
                  dilation, groups);
  check_defined(op, x);
  check_defined(op, weight, "weight");
  KILN_CHECK(x.dim() == 3, op, ": input must be (N, C_in, L), got ", shape_str(x.shape()));
  KILN_CHECK(weight.dim() == 3, op, ": weight must be (C_out, C_in / groups, K), got ",
             shape_str(weight.shape()));
  // Checked here too so that errors name conv1d and the 3-D shapes, not the conv2d this runs as.
  KILN_CHECK(stride >= 1 && dilation >= 1 && padding >= 0 && groups >= 1, op, ": stride (", stride,
             "), dilation (", dilation, ") and groups (", groups, ") must be positive and padding (", padding,
             ") non-negative");
  KILN_CHECK(x.size(1) % groups == 0 && weight.size(0) % groups == 0 && weight.size(1) * groups == x.size(1),
             op, ": input ", shape_str(x.shape()), " and weight ", shape_str(weight.shape()),
             " do not match with groups = ", groups, " (weight needs C_in / groups = ", x.size(1) / groups,
             " input channels and C_out divisible by groups)");
  KILN_CHECK(dilation * (weight.size(2) - 1) + 1 <= x.size(2) + 2 * padding, op, ": kernel ", weight.size(2),
             " (dilation ", dilation, ") is larger than the padded input length ", x.size(2) + 2 * padding,
             "; input ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
  Tensor y =
      conv2d(unsqueeze(x, 2), unsqueeze(weight, 2), bias, {1, stride}, {0, padding}, {1, dilation}, groups);
  return squeeze(y, 2);
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, Int2 stride, Int2 padding,
                        Int2 output_padding, int64_t groups, Int2 dilation) {
  const char* op = "conv_transpose2d";
  if (autocast::needs_lower({&x, &weight, &bias}))
    return conv_transpose2d(autocast::lower(x), autocast::lower(weight), autocast::lower(bias), stride,
                            padding, output_padding, groups, dilation);
  check_conv_operands(op, x, weight, bias);
  KILN_CHECK(x.dim() == 4, op, ": input must be (N, C_in, H, W), got ", shape_str(x.shape()));
  KILN_CHECK(weight.dim() == 4, op, ": weight must be (C_in, C_out / groups, kH, kW), got ",
             shape_str(weight.shape()));
  check_positive(op, "stride", stride, 1, x);
  check_positive(op, "dilation", dilation, 1, x);
  check_positive(op, "padding", padding, 0, x);
  check_positive(op, "output_padding", output_padding, 0, x);
  KILN_CHECK(groups >= 1, op, ": groups must be positive, got ", groups, " (input ", shape_str(x.shape()),
             ")");
  for (int i = 0; i < 2; ++i)
    KILN_CHECK(output_padding[i] < stride[i] || output_padding[i] < dilation[i], op, ": output_padding ",
               int2_str(output_padding), " must be smaller than either stride ", int2_str(stride),
               " or dilation ", int2_str(dilation));
  KILN_CHECK(weight.size(0) == x.size(1), op, ": weight ", shape_str(weight.shape()), " expects ",
             weight.size(0), " input channels, but input ", shape_str(x.shape()), " has ", x.size(1));
  KILN_CHECK(x.size(1) % groups == 0, op, ": input channels (", x.size(1), ") must be divisible by groups (",
             groups, "); input ", shape_str(x.shape()), ", weight ", shape_str(weight.shape()));
  // The convolution whose backward-data this is: it maps (N, C_out, H_out, W_out) to x's shape.
  Conv2dArgs a;
  a.n = x.size(0), a.c_out = x.size(1), a.h_out = x.size(2), a.w_out = x.size(3);
  a.c_in = weight.size(1) * groups, a.kh = weight.size(2), a.kw = weight.size(3);
  a.stride_h = stride[0], a.stride_w = stride[1], a.pad_h = padding[0], a.pad_w = padding[1];
  a.dil_h = dilation[0], a.dil_w = dilation[1], a.groups = groups;
  a.h = (a.h_out - 1) * a.stride_h - 2 * a.pad_h + a.dil_h * (a.kh - 1) + output_padding[0] + 1;
  a.w = (a.w_out - 1) * a.stride_w - 2 * a.pad_w + a.dil_w * (a.kw - 1) + output_padding[1] + 1;
  KILN_CHECK(a.h >= 1 && a.w >= 1 && a.kh >= 1 && a.kw >= 1, op, ": input ", shape_str(x.shape()),
             " with weight ", shape_str(weight.shape()), ", stride ", int2_str(stride), ", padding ",
             int2_str(padding), " gives an empty output (", a.h, "x", a.w, ")");
  return add_channel_bias(op, conv_backward_data(x, weight, a), bias, a.c_in);
}

}  // namespace kiln
