// kiln/autograd/ops.h: the differentiable ops, as free functions with PyTorch's names and semantics.
// Every op is listed in op_list.h and implemented once in autograd/ops/<family>.cpp (forward + backward).
// Binary ops broadcast NumPy-style and promote mixed dtypes as PyTorch does (result_type below; a double
// operand takes the tensor's dtype);
// all tensor operands must share a device. Errors name the op, shapes, dtypes and devices.
// Dims may be negative (counted from the end). Depends on tensor.h.
#pragma once

#include <array>
#include <vector>

#include "kiln/autograd/class_targets.h"
#include "kiln/tensor/backend.h"
#include "kiln/tensor/tensor.h"

namespace kiln {

// ---- elementwise unary ----
Tensor neg(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor sign(const Tensor& x);  // no gradient (zero, as in PyTorch)
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor log1p(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor square(const Tensor& x);
Tensor sin(const Tensor& x);
Tensor cos(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);
Tensor gelu(const Tensor& x);  // the exact (erf) form, PyTorch's default
Tensor silu(const Tensor& x);
Tensor softplus(const Tensor& x);  // log(1 + exp(x)), computed without overflow
Tensor erf(const Tensor& x);
Tensor reciprocal(const Tensor& x);

// ---- type promotion (torch.promote_types / torch.result_type) ----
// bool < u8 < i32 < i64 < floating; among floats f64 > f32 > f16, bf16, and f16 with bf16 gives f32.
DType promote_types(DType a, DType b);
// The dtype of a binary op on a and b: a 0-d tensor only takes part when its category (bool, integer,
// floating) is higher than the other operand's, so f16 x (N) times a 0-d f32 tensor stays f16.
DType result_type(const Tensor& a, const Tensor& b);

// ---- elementwise binary (broadcasting) ----
// Departures from PyTorch, on purpose:
//  - div (and `/`) of two integer tensors truncates toward zero, like C++ and PyTorch's
//    div(rounding_mode="trunc"); PyTorch's plain div is true division. Cast first (a.to(DType::f32) / b) for
//    PyTorch's result. Integer division by zero is an error, not a crash.
//  - matmul needs f32 or f64 operands (PyTorch also multiplies integer matrices on the CPU); the error says
//  so.
// Followed as in PyTorch: a C++ double next to an integer tensor is a Python float (i64 [7] * 2.5 is f32
// 17.5); floating functions of integer tensors (exp, log, sqrt, ...) compute in f32; cat promotes mixed
// dtypes; clamp with min > max gives max.
Tensor add(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a + alpha * b
Tensor sub(const Tensor& a, const Tensor& b, double alpha = 1.0);  // a - alpha * b
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, double exponent);
Tensor maximum(const Tensor& a, const Tensor& b);  // at ties the gradient is split evenly
Tensor minimum(const Tensor& a, const Tensor& b);

Tensor operator-(const Tensor& x);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);

// ---- comparisons (bool results, no gradient) and selection ----
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, double b);
Tensor operator<=(const Tensor& a, double b);
Tensor operator>(const Tensor& a, double b);
Tensor operator>=(const Tensor& a, double b);
Tensor logical_and(const Tensor& a, const Tensor& b);
Tensor logical_or(const Tensor& a, const Tensor& b);
Tensor logical_not(const Tensor& a);
// cond ? a : b, broadcasting all three; no gradient flows into cond (bool).
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, double b);
Tensor where(const Tensor& cond, double a, const Tensor& b);
// Limits x to [min, max]; the gradient passes where min <= x <= max.
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

// ---- reductions (dims empty = all dims) ----
Tensor sum(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
// Largest / smallest value over dims; the gradient is split evenly among ties (as PyTorch's amax).
Tensor amax(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
Tensor amin(const Tensor& x, const Shape& dims = {}, bool keepdim = false);
// Values and i64 indices along one dim; the gradient goes to the index returned.
ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim = false);
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const Shape& dims, bool keepdim = false);
// Variance with Bessel's correction by default (correction = 1), as torch.var.
Tensor var(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
Tensor std(const Tensor& x, const Shape& dims = {}, int64_t correction = 1, bool keepdim = false);
// The p-norm over dims (p = 2: Euclidean); the gradient at a zero vector is zero.
Tensor norm(const Tensor& x, double p = 2.0, const Shape& dims = {}, bool keepdim = false);

// ---- linear algebra ----
// torch.matmul: 1-D x 1-D dot, 2-D matrix product, N-D batched with broadcast batch dims.
Tensor matmul(const Tensor& a, const Tensor& b);
// x (N, ..., D_in) @ weight (D_out, D_in)^T + bias (D_out); bias may be undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());
// act(linear(x, weight, bias)), with the bias and the activation applied in one pass (bias_act);
// negative_slope is leaky_relu's. Activation (tensor/activation.h): none, relu, gelu, silu, sigmoid, tanh,
// leaky_relu.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act,
              double negative_slope = 0.01);

// ---- movement (views share storage) ----
Tensor reshape(const Tensor& x, const Shape& shape);  // one size may be -1; copies only if it must
Tensor view(const Tensor& x, const Shape& shape);     // never copies: a kiln::Error if no view exists
Tensor flatten(const Tensor& x, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor permute(const Tensor& x, const Shape& dims);
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor squeeze(const Tensor& x);
Tensor squeeze(const Tensor& x, int64_t dim);
Tensor unsqueeze(const Tensor& x, int64_t dim);
Tensor expand(const Tensor& x, const Shape& shape);
Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);
Tensor contiguous(const Tensor& x);
Tensor clone(const Tensor& x);
Tensor cast(const Tensor& x, DType dtype);  // gradient flows between floating dtypes
Tensor to_device(const Tensor& x, Device device);
Tensor cat(const std::vector<Tensor>& xs, int64_t dim = 0);
Tensor stack(const std::vector<Tensor>& xs, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& x, const Shape& split_sizes, int64_t dim = 0);
// Rows (or slices along dim) picked by a 1-D i64 index; out-of-range indices are a kiln::Error.
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// x with src added at positions index along dim (out of place).
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);
// i64 labels (any shape) -> (..., num_classes) i64 rows of 0/1; labels must lie in [0, num_classes).
Tensor one_hot(const Tensor& labels, int64_t num_classes);

// ---- normalization ----
Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- fused (autograd/ops/fused.cpp): one kernel forward, one kernel backward ----
// Per-element softmax cross-entropy from logits and class indices (PyTorch's cross_entropy with
// reduction none): logits (N, K, d1, ...), (N, K) or (K); target i64 of logits' shape without the class
// dim; weight (K) or undefined. loss = sum_k T_k (logsumexp(x) - x_k) with the target distribution
// T_k = (1 - label_smoothing) w[t] [k == t] + label_smoothing / K w[k], and 0 where t == ignore_index.
// Targets must be classes in [0, K) or ignore_index. The gradient reaches logits (and weight, by a
// composite path, when it requires grad).
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight = {},
                             int64_t ignore_index = -100, double label_smoothing = 0.0);
// The same with targets a loss has already checked (autograd::check_class_targets), so they are not
// scanned again; their K must be the logits'.
Tensor softmax_cross_entropy(const Tensor& logits, const autograd::ClassTargets& target, const Tensor& weight,
                             double label_smoothing);
// act(x + bias) in one pass: x (..., D), bias (D); negative_slope is leaky_relu's.
Tensor bias_act(const Tensor& x, const Tensor& bias, Activation act, double negative_slope = 0.01);

// ---- neural-network ops (autograd/ops/conv.cpp, pool.cpp, norm.cpp, nn_misc.cpp) ----
// Shapes: N batch, C channels, H/W (or L) spatial. Pairs are {height, width}. Every shape or argument
// error (rank, channels not divisible by groups, kernel larger than the padded input, negative padding,
// ...) is a kiln::Error naming the op and the shapes. Floating dtypes only; operands share dtype and device.
using Int2 = std::array<int64_t, 2>;
// x (N, C_in, H, W), weight (C_out, C_in / groups, kH, kW), bias (C_out) or undefined
// -> (N, C_out, H_out, W_out), H_out = (H + 2 padding - dilation (kH - 1) - 1) / stride + 1.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Int2 stride = {1, 1},
              Int2 padding = {0, 0}, Int2 dilation = {1, 1}, int64_t groups = 1);
// x (N, C_in, L), weight (C_out, C_in / groups, K), bias (C_out) or undefined -> (N, C_out, L_out).
Tensor conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, int64_t stride = 1,
              int64_t padding = 0, int64_t dilation = 1, int64_t groups = 1);
// The adjoint of conv2d (PyTorch semantics): x (N, C_in, H, W), weight (C_in, C_out / groups, kH, kW)
// -> (N, C_out, H_out, W_out), H_out = (H - 1) stride - 2 padding + dilation (kH - 1) + output_padding + 1;
// output_padding must be smaller than stride or dilation.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {}, Int2 stride = {1, 1},
                        Int2 padding = {0, 0}, Int2 output_padding = {0, 0}, int64_t groups = 1,
                        Int2 dilation = {1, 1});
// x (N, C, H, W) -> (N, C, H_out, W_out). stride {0, 0} means stride = kernel (PyTorch's default);
// padding at most half the kernel. ceil_mode rounds the output size up (a window must still start
// inside the input or its left padding). The gradient goes to the position of each window's maximum.
Tensor max_pool2d(const Tensor& x, Int2 kernel, Int2 stride = {0, 0}, Int2 padding = {0, 0},
                  Int2 dilation = {1, 1}, bool ceil_mode = false);
// As max_pool2d, averaging; count_include_pad counts zero padding in the divisor (not the ceil_mode
// overhang past the padding), as PyTorch does.
Tensor avg_pool2d(const Tensor& x, Int2 kernel, Int2 stride = {0, 0}, Int2 padding = {0, 0},
                  bool ceil_mode = false, bool count_include_pad = true);
// x (N, C, H, W) -> (N, C, out_h, out_w); output cell i averages input rows floor(i H / out_h) to
// ceil((i + 1) H / out_h) - 1 (likewise for columns), so any sizes work.
Tensor adaptive_avg_pool2d(const Tensor& x, Int2 output_size);
// Constant padding in F.pad order: pairs for the last dim first (left, right, top, bottom, ...), at most
// one pair per dim; sizes must be >= 0.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);
// Inverted dropout: zeroes each element with probability p and scales the rest by 1 / (1 - p); the
// identity when !training or p == 0. p must lie in [0, 1). The mask comes from kiln's default generator
// (kiln::manual_seed makes it reproducible).
Tensor dropout(const Tensor& x, double p, bool training);
// As dropout, zeroing whole channels of (N, C, H, W) or (N, C, L).
Tensor dropout2d(const Tensor& x, double p, bool training);
// x (N, C), (N, C, L) or (N, C, H, W); statistics per channel C. training: batch statistics (biased
// variance for normalizing), and running_mean / running_var (C), when defined, are updated in place
// without gradient: running = (1 - momentum) running + momentum batch_stat, with the unbiased variance.
// !training: normalizes with the running statistics (both required). weight / bias (C) are optional.
Tensor batch_norm(const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                  const Tensor& weight, const Tensor& bias, bool training, double momentum = 0.1,
                  double eps = 1e-5);
// Normalizes over the trailing dims given by normalized_shape (which must match x's last dims);
// weight / bias, when defined, have normalized_shape.
Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
// x (N, C, ...) with C divisible by num_groups; statistics per (sample, group); weight / bias (C).
Tensor group_norm(const Tensor& x, int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);
// weight (num_embeddings, D), indices i64 of any shape -> indices.shape + (D). Rows looked up at
// padding_idx (in [0, num_embeddings), or -1 for none) get no gradient. Out-of-range indices are a
// kiln::Error naming the index and num_embeddings.
Tensor embedding(const Tensor& weight, const Tensor& indices, int64_t padding_idx = -1);

}  // namespace kiln
