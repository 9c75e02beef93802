// Pooling: max_pool2d (primitive: the kernel writes argmax indices; its backward is a recorded op whose own
// backward gathers at those indices), avg_pool2d (composite: a ones-kernel conv2d per plane divided by
// PyTorch's window counts) and adaptive_avg_pool2d (composite: two averaging matrices, Ah @ x @ Aw^T).
// Depends on ops/common.h, conv2d and the kernel table's max_pool2d entries.
#include <algorithm>
#include <sstream>

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

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// PyTorch's pooling output size: floor (or ceil) of the window count, where with ceil_mode the last
// window must start inside the input or its left padding.
int64_t pool_out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  int64_t out = floor_div(in + 2 * p - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

// Validates a 2-D pooling call and returns its geometry (dilation {1, 1} for average pooling).
Pool2dArgs pool_args(const char* op, const Tensor& x, Int2 kernel, Int2& stride, Int2 padding, Int2 dilation,
                     bool ceil_mode) {
  check_defined(op, x);
  check_floating(op, x);
  KILN_CHECK(x.dim() == 4, op, ": input must be (N, C, H, W), got ", shape_str(x.shape()));
  const std::string input = " (input " + shape_str(x.shape()) + ")";
  KILN_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": kernel must be positive, got ", int2_str(kernel), input);
  if (stride[0] == 0 && stride[1] == 0) stride = kernel;
  KILN_CHECK(stride[0] > 0 && stride[1] > 0, op, ": stride must be positive, got ", int2_str(stride), input);
  KILN_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": dilation must be positive, got ", int2_str(dilation),
             input);
  KILN_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": padding must be non-negative, got ",
             int2_str(padding), input);
  KILN_CHECK(2 * padding[0] <= kernel[0] && 2 * padding[1] <= kernel[1], op, ": padding ", int2_str(padding),
             " must be at most half the kernel ", int2_str(kernel), input);
  Pool2dArgs a;
  a.n = x.size(0), a.c = x.size(1), a.h = x.size(2), a.w = x.size(3);
  a.kh = kernel[0], a.kw = kernel[1], a.stride_h = stride[0], a.stride_w = stride[1];
  a.pad_h = padding[0], a.pad_w = padding[1], a.dil_h = dilation[0], a.dil_w = dilation[1];
  a.h_out = pool_out_size(a.h, a.kh, a.stride_h, a.pad_h, a.dil_h, ceil_mode);
  a.w_out = pool_out_size(a.w, a.kw, a.stride_w, a.pad_w, a.dil_w, ceil_mode);
  KILN_CHECK(a.h_out >= 1 && a.w_out >= 1, op, ": kernel ", int2_str(kernel), " (dilation ",
             int2_str(dilation), ") is larger than the padded input; input ", shape_str(x.shape()),
             ", padding ", int2_str(padding), " gives output ", a.h_out, "x", a.w_out);
  return a;
}

// grad_x of max_pool2d from grad_out and the argmax indices; linear in g, so its backward gathers.
Tensor max_pool2d_backward(const Tensor& g, const Tensor& indices, const Pool2dArgs& a) {
  Tensor gx = empty({a.n, a.c, a.h, a.w}, {.dtype = g.dtype(), .device = g.device()});
  if (gx.numel() > 0) backend(g.device()).max_pool2d_backward(a, contiguous(g.detach()), indices, gx);
  if (autograd::needs_grad({&g})) {
    record("max_pool2d_backward", {g}, gx, [indices, a](const Tensor& u, const Tensor&) {
      Tensor picked = gather(reshape(u, {a.n, a.c, a.h * a.w}), 2, reshape(indices, {a.n, a.c, -1}));
      return Grads{reshape(picked, {a.n, a.c, a.h_out, a.w_out})};
    });
  }
  return gx;
}
}  // namespace

Tensor max_pool2d(const Tensor& x, Int2 kernel, Int2 stride, Int2 padding, Int2 dilation, bool ceil_mode) {
  return trace::traced(
      "max_pool2d",
      [&]() -> Tensor {
        Pool2dArgs a = pool_args("max_pool2d", x, kernel, stride, padding, dilation, ceil_mode);
        check_supported(ConvKernel::max_pool2d, x.dtype(), x.device(), "max_pool2d");
        Tensor out = empty({a.n, a.c, a.h_out, a.w_out}, {.dtype = x.dtype(), .device = x.device()});
        Tensor indices = empty(out.shape(), {.dtype = DType::i64, .device = x.device()});
        if (out.numel() > 0) backend(x.device()).max_pool2d(a, contiguous(x.detach()), out, indices);
        if (autograd::needs_grad({&x})) {
          record("max_pool2d", {x}, out, [indices, a](const Tensor& g, const Tensor&) {
            return Grads{max_pool2d_backward(g, indices, a)};
          });
        }
        return out;
      },
      [&] {
        return trace::OpRecord{{x},
                               {{"kernel", std::vector<int64_t>{kernel[0], kernel[1]}},
                                {"stride", std::vector<int64_t>{stride[0] ? stride[0] : kernel[0],
                                                                stride[1] ? stride[1] : kernel[1]}},
                                {"padding", std::vector<int64_t>{padding[0], padding[1]}},
                                {"dilation", std::vector<int64_t>{dilation[0], dilation[1]}},
                                {"ceil_mode", int64_t{ceil_mode}}}};
      });
}

Tensor avg_pool2d(const Tensor& x, Int2 kernel, Int2 stride, Int2 padding, bool ceil_mode,
                  bool count_include_pad) {
  return trace::traced(
      "avg_pool2d",
      [&]() -> Tensor {
        Pool2dArgs a = pool_args("avg_pool2d", x, kernel, stride, padding, {1, 1}, ceil_mode);
        // ceil_mode windows that run past the right padding read extra zeros, which the divisor does not
        // count.
        const int64_t extra_h = std::max<int64_t>(0, (a.h_out - 1) * a.stride_h + a.kh - a.h - 2 * a.pad_h);
        const int64_t extra_w = std::max<int64_t>(0, (a.w_out - 1) * a.stride_w + a.kw - a.w - 2 * a.pad_w);
        // Window sums of the (N C, 1, H, W) planes; the divisor is the same window sum over a plane of ones,
        // all on x's device (no host-built constant): over the zero-padded H x W plane it counts the input
        // cells of each window, over an (H + 2 pad) x (W + 2 pad) plane of ones with no padding it counts the
        // padding too.
        Tensor ones_kernel = ones({1, 1, a.kh, a.kw}, {.dtype = x.dtype(), .device = x.device()});
        auto window_sums = [&](Tensor planes, Int2 pad_hw) {
          if (extra_h > 0 || extra_w > 0) planes = pad(planes, {0, extra_w, 0, extra_h});
          Tensor s = conv2d(planes, ones_kernel, {}, stride, pad_hw);
          return narrow(narrow(s, 2, 0, a.h_out), 3, 0, a.w_out);
        };
        Tensor sums = window_sums(reshape(x, {a.n * a.c, 1, a.h, a.w}), padding);
        Tensor div_t;
        {
          NoGradGuard no_grad;
          const TensorOptions like{.dtype = x.dtype(), .device = x.device()};
          div_t = count_include_pad
                      ? window_sums(ones({1, 1, a.h + 2 * a.pad_h, a.w + 2 * a.pad_w}, like), {0, 0})
                      : window_sums(ones({1, 1, a.h, a.w}, like), padding);
          div_t = reshape(div_t, {a.h_out, a.w_out});
        }
        return reshape(sums, {a.n, a.c, a.h_out, a.w_out}) / div_t;
      },
      [&] {
        return trace::OpRecord{{x},
                               {{"kernel", std::vector<int64_t>{kernel[0], kernel[1]}},
                                {"stride", std::vector<int64_t>{stride[0] ? stride[0] : kernel[0],
                                                                stride[1] ? stride[1] : kernel[1]}},
                                {"padding", std::vector<int64_t>{padding[0], padding[1]}},
                                {"ceil_mode", int64_t{ceil_mode}},
                                {"count_include_pad", int64_t{count_include_pad}}}};
      });
}

Tensor adaptive_avg_pool2d(const Tensor& x, Int2 output_size) {
  return trace::traced(
      "adaptive_avg_pool2d",
      [&]() -> Tensor {
        const char* op = "adaptive_avg_pool2d";
        check_defined(op, x);
        check_floating(op, x);
        KILN_CHECK(x.dim() == 4, op, ": input must be (N, C, H, W), got ", shape_str(x.shape()));
        KILN_CHECK(output_size[0] > 0 && output_size[1] > 0, op, ": output_size must be positive, got ",
                   int2_str(output_size), " (input ", shape_str(x.shape()), ")");
        KILN_CHECK(x.size(2) > 0 && x.size(3) > 0, op, ": input ", shape_str(x.shape()),
                   " has an empty plane");
        // averaging(out, in)[i, j] = 1 / window_i for j in window i = [floor(i in / out), ceil((i + 1) in /
        // out)), built on x's device: j >= floor(i in / out) <=> (j + 1) out > i in, and j < ceil((i + 1) in
        // / out) <=> j out < (i + 1) in, exact in i64.
        auto averaging = [&](int64_t out, int64_t in) {
          NoGradGuard no_grad;
          Tensor i = reshape(arange(out, {.dtype = DType::i64, .device = x.device()}), {out, 1});
          Tensor j = reshape(arange(in, {.dtype = DType::i64, .device = x.device()}), {1, in});
          Tensor inside =
              logical_and((j + 1.0) * double(out) > i * double(in), j * double(out) < (i + 1.0) * double(in));
          Tensor m = cast(inside, x.dtype());
          return m / sum(m, {1}, /*keepdim=*/true);
        };
        Tensor ah = averaging(output_size[0], x.size(2));
        Tensor aw = averaging(output_size[1], x.size(3));
        return matmul(matmul(ah, x), transpose(aw, 0, 1));
      },
      [&] {
        return trace::OpRecord{{x}, {{"output_size", std::vector<int64_t>{output_size[0], output_size[1]}}}};
      });
}

}  // namespace kiln
