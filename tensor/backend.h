// kiln/tensor/backend.h: the kernel table. One plain struct of function pointers per device type, filled
// by kernels/<device>/ at static-initialization time and called by autograd ops and by tensor/ copies.
// Ops never call a kernel directly, only through backend(device). A backend that lacks a kernel for a
// dtype says so through supports(); callers check it and throw a kiln::Error naming the op.
//
// Kernel contracts: tensors arrive with validated shapes and a common device; outputs are allocated by
// the caller; inputs may be strided views (stride 0 where broadcast) unless a kernel says "contiguous".
// Depends on tensor.h.
#pragma once

#include <cstdint>

#include "kiln/tensor/tensor.h"

namespace kiln {

// Elementwise unary kernels: out = f(in) (same dtype), with one scalar parameter `alpha` where noted.
// clang-format off
#define KILN_UNARY_KERNELS(X)                                                                   \
  X(neg) X(abs) X(sign) X(exp) X(log) X(log1p) X(sqrt) X(rsqrt) X(square) X(sin) X(cos) X(tanh) \
  X(sigmoid) X(relu) X(leaky_relu) /* alpha = negative slope */ X(gelu) X(silu) X(softplus)     \
  X(erf) X(reciprocal) X(logical_not)
// clang-format on
enum class UnaryKernel : uint8_t {
#define KILN_X(name) name,
  KILN_UNARY_KERNELS(KILN_X)
#undef KILN_X
};
const char* kernel_name(UnaryKernel k);

// Elementwise binary kernels over broadcast views: out = f(a, b). Comparisons and logical ops write bool.
// clang-format off
#define KILN_BINARY_KERNELS(X)                                                              \
  X(add) X(sub) X(mul) X(div) X(pow) X(maximum) X(minimum) X(eq) X(ne) X(lt) X(le) X(gt)    \
  X(ge) X(logical_and) X(logical_or)
// clang-format on
enum class BinaryKernel : uint8_t {
#define KILN_X(name) name,
  KILN_BINARY_KERNELS(KILN_X)
#undef KILN_X
};
const char* kernel_name(BinaryKernel k);
constexpr bool writes_bool(BinaryKernel k) { return k >= BinaryKernel::eq; }

// Reductions over the middle axis of a contiguous (O, R, I) view: out[o, i] = reduce_r in[o, r, i].
// argmax/argmin write i64 indices in [0, R); max/min also write indices when `indices` is defined.
enum class ReduceKernel : uint8_t { sum, max, min, argmax, argmin };
const char* kernel_name(ReduceKernel k);

enum class RandomKernel : uint8_t { uniform, normal, bernoulli, randint };

// C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b], row-major, op = transpose when trans_*.
// A is M x K after op, B is K x N after op; ld* are row strides; batch strides in elements.
struct GemmArgs {
  bool trans_a = false, trans_b = false;
  int64_t m = 0, n = 0, k = 0, batch = 1;
  double alpha = 1.0, beta = 0.0;
  const void* a = nullptr;
  int64_t lda = 0, stride_a = 0;
  const void* b = nullptr;
  int64_t ldb = 0, stride_b = 0;
  void* c = nullptr;
  int64_t ldc = 0, stride_c = 0;
  DType dtype = DType::f32;
};

// Geometry of a 2-D convolution: x (N, C_in, H, W), weight (C_out, C_in / groups, kH, kW),
// out (N, C_out, H_out, W_out), where H_out = (H + 2 pad_h - dil_h (kH - 1) - 1) / stride_h + 1 (the caller
// may pass a larger H than that formula inverts to, as conv_transpose2d's output_padding does).
struct Conv2dArgs {
  int64_t n = 0, c_in = 0, h = 0, w = 0, c_out = 0, kh = 0, kw = 0, h_out = 0, w_out = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
};

// Geometry of a 2-D max pool over the planes of x (N, C, H, W) -> out (N, C, H_out, W_out); padding is
// -infinity. The caller computes H_out/W_out (ceil_mode lives there).
struct Pool2dArgs {
  int64_t n = 0, c = 0, h = 0, w = 0, kh = 0, kw = 0, h_out = 0, w_out = 0;
  int64_t stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1;
};

struct Backend {
  const char* name;
  void (*unary)(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha);
  void (*binary)(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out);
  // out = cond ? a : b, all three broadcast to out's shape; cond is bool.
  void (*where)(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
  // in: contiguous (O, R, I); out: contiguous (O, I); indices: (O, I) i64 or undefined.
  void (*reduce)(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices);
  void (*gemm)(const GemmArgs& args);
  // dst = src converted to dst's dtype; src already broadcast (expanded) to dst's shape. Either side may
  // be on the CPU while the other is on this backend's device (host <-> device transfers).
  void (*copy)(const Tensor& src, const Tensor& dst);
  void (*fill)(const Tensor& dst, double value);
  // out[..., j, ...] = src[..., index[j], ...] along dim; index 1-D i64 with values checked by the caller.
  void (*index_select)(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
  // out[i][j][k] = src[i][index[i][j][k]][k] for dim 1 (and likewise for any dim); out has index's shape.
  void (*gather)(const Tensor& src, int64_t dim, const Tensor& index, const Tensor& out);
  // dst[i][index[i][j][k]][k] += src[i][j][k] (dim 1), in place; index and src share a shape.
  void (*scatter_add)(const Tensor& dst, int64_t dim, const Tensor& index, const Tensor& src);
  // Fills contiguous `out` from the counter-based stream (seed, offset): element e uses counter
  // offset + e / 2 (see tensor/random.h), so the values do not depend on threads or on the device.
  void (*random)(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b);
  // Convolution and pooling (family 'c', code 0): contiguous operands of one floating dtype, shapes per
  // Conv2dArgs / Pool2dArgs, outputs fully overwritten. conv2d: out = x (*) weight + bias, where bias
  // (C_out) may be undefined.
  // conv2d_backward_data: grad_x = the gradient of sum(out * grad_out) with respect to x (the transposed
  // convolution). conv2d_backward_filter: grad_weight likewise with respect to weight.
  void (*conv2d)(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& bias,
                 const Tensor& out);
  void (*conv2d_backward_data)(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                               const Tensor& grad_x);
  void (*conv2d_backward_filter)(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                                 const Tensor& grad_weight);
  // max_pool2d writes out and i64 indices (N, C, H_out, W_out): the flat position h * W + w of each maximum
  // within its input plane (PyTorch's convention; a NaN wins). The backward adds grad_out into grad_x at
  // those positions (grad_x is overwritten, not accumulated into).
  void (*max_pool2d)(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices);
  void (*max_pool2d_backward)(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                              const Tensor& grad_x);
  // ---- batch normalization (family 'n': code 0 forward, 1 backward) ----
  // x, out, grad_out, grad_x: contiguous (N, C, *) of one floating dtype, viewed as (N, C, S) with S the
  // product of the trailing dims; statistics are per channel over M = N S values. The per-channel tensors
  // (C) are contiguous, of x's dtype; weight, bias, running_mean and running_var may be undefined
  // (weight 1, bias 0, no running statistics).
  // batch_norm_forward, training: save_mean = the batch mean, save_invstd = 1 / sqrt(biased var + eps);
  //   running_mean / running_var, when defined, become (1 - momentum) running + momentum stat in place,
  //   with the unbiased variance (M / (M - 1) times the biased one; the caller ensures M > 1).
  //   !training: save_mean = running_mean, save_invstd = 1 / sqrt(running_var + eps) (both defined).
  //   Then out = (x - save_mean) save_invstd weight + bias.
  // batch_norm_backward, with xhat = (x - save_mean) save_invstd and sums over N and S per channel:
  //   grad_bias = sum(g), grad_weight = sum(g xhat), and grad_x = weight save_invstd (g - sum(g) / M -
  //   xhat sum(g xhat) / M) in training (the batch statistics move with x), weight save_invstd g
  //   otherwise. Any of grad_x, grad_weight, grad_bias may be undefined (not needed); all are overwritten.
  void (*batch_norm_forward)(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Tensor& running_mean, const Tensor& running_var, bool training,
                             double momentum, double eps, const Tensor& out, const Tensor& save_mean,
                             const Tensor& save_invstd);
  void (*batch_norm_backward)(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                              const Tensor& save_mean, const Tensor& save_invstd, bool training,
                              const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias);
  // ---- CUDA Graph capture and pinned host staging (gputools) ----
  // Whether work for device `index` of this type is being captured into a CUDA Graph now; while it is,
  // nothing may read a value on the host (a check that scans values must be skipped or done on the
  // device). The CPU: never.
  bool (*is_capturing)(int index);
  // A copy of CPU tensor t in page-locked host memory, from which copies to this backend's device run
  // asynchronously (cuda::pin_memory; the DataLoader's pin_memory option). The CPU table returns t.
  Tensor (*pin_memory)(const Tensor& t);
  // Whether this backend has kernel `family`/`code` for `dtype` (family: 'u' unary, 'b' binary, 'd' reduce,
  // 'g' gemm, 'r' random, 'c' convolution and pooling, 'n' batch normalization, 'o' other).
  bool (*supports)(char family, int code, DType dtype);
};

// The table for a device; throws kiln::Error when no backend for it is linked in.
const Backend& backend(Device device);
bool has_backend(DeviceType type);
void register_backend(DeviceType type, const Backend* table);

}  // namespace kiln
