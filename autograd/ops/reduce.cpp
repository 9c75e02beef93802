// Reductions over any dims with keepdim. The kernel reduces the middle axis of a contiguous (O, R, I)
// view: reduced dims that are adjacent in a contiguous input are used in place, otherwise they are
// permuted to the end first.
#include <algorithm>
#include <cmath>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

// Arranges x as a contiguous (O, R, I) tensor whose middle axis covers `dims` (sorted, unique).
Tensor as_outer_reduce_inner(const Tensor& x, const Shape& dims) {
  const int64_t nd = x.dim();
  bool adjacent = !dims.empty() && dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size());
  Tensor src = x.detach();
  int64_t O = 1, R = 1, I = 1;
  if (adjacent && x.is_contiguous()) {
    for (int64_t d = 0; d < nd; ++d) (d < dims.front() ? O : d <= dims.back() ? R : I) *= x.shape()[d];
  } else {
    Shape perm;
    for (int64_t d = 0; d < nd; ++d)
      if (!std::binary_search(dims.begin(), dims.end(), d)) perm.push_back(d), O *= x.shape()[d];
    for (int64_t d : dims) perm.push_back(d), R *= x.shape()[d];
    NoGradGuard no_grad;
    src = contiguous(permute(src, perm));
  }
  return as_strided(src, {O, R, I}, {R * I, I, 1}, src.offset());
}

// Runs reduce kernel k over dims; returns the values (or indices for arg kernels) and, when asked,
// the indices of max/min.
Tensor run_reduce(ReduceKernel k, const Tensor& x, const Shape& dims, bool keepdim, Tensor* indices,
                  const char* op) {
  check_defined(op, x);
  const Backend& be = backend(x.device());
  check_supported(k, x.dtype(), x.device(), op);
  Shape out_shape = reduced_shape(x.shape(), dims, keepdim);
  int64_t R = 1;
  for (int64_t d : dims) R *= x.shape()[d];
  bool arg = k == ReduceKernel::argmax || k == ReduceKernel::argmin;
  KILN_CHECK(k == ReduceKernel::sum || R > 0, op, ": cannot reduce an empty dimension (input shape ",
             shape_str(x.shape()), ")");
  Tensor out = empty(out_shape, {.dtype = arg ? DType::i64 : x.dtype(), .device = x.device()});
  Tensor idx;
  if (indices) idx = *indices = empty(out_shape, {.dtype = DType::i64, .device = x.device()});
  if (out.numel() == 0) return out;
  if (R == 0) return out.fill_(0.0);
  Tensor view = as_outer_reduce_inner(x, dims);
  int64_t O = view.size(0), I = view.size(2);
  Tensor out3 = as_strided(out, {O, I}, {I, 1}, 0);
  Tensor idx3 = idx.defined() ? as_strided(idx, {O, I}, {I, 1}, 0) : Tensor();
  be.reduce(k, view, out3, idx3);
  return out;
}

// Sum of bools and small integers counts in i64, as in PyTorch.
Tensor promote_for_sum(const Tensor& x) {
  if (x.dtype() == DType::boolean || x.dtype() == DType::u8 || x.dtype() == DType::i32)
    return cast(x, DType::i64);
  return x;
}

// Gradient of amax/amin: split evenly among the elements equal to the extreme.
Tensor extreme_backward(const Tensor& g, const Tensor& x, const Tensor& out, const Shape& dims,
                        bool keepdim) {
  Tensor o = restore_reduced_dims(out, x.shape(), dims, keepdim);
  Tensor gk = restore_reduced_dims(g, x.shape(), dims, keepdim);
  Tensor mask = cast(eq(x, o), x.dtype());
  return mask * gk / sum(mask, dims, true);
}
}  // namespace

Tensor sum(const Tensor& x_in, const Shape& dims_in, bool keepdim) {
  check_defined("sum", x_in);
  if (autocast::needs_f32({&x_in})) return sum(autocast::upper(x_in), dims_in, keepdim);
  Tensor x = promote_for_sum(x_in);
  Shape dims = reduction_dims(dims_in, x.dim(), "sum");
  Tensor out = run_reduce(ReduceKernel::sum, x, dims, keepdim, nullptr, "sum");
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    record("sum", {x}, out, [in_shape, dims, keepdim](const Tensor& g, const Tensor&) {
      Tensor gk = keepdim ? g : reshape(g, reduced_shape(in_shape, dims, true));
      return Grads{expand(gk, in_shape)};
    });
  }
  return out;
}

Tensor mean(const Tensor& x, const Shape& dims_in, bool keepdim) {
  return trace::traced(
      "mean",
      [&]() -> Tensor {
        check_defined("mean", x);
        if (autocast::needs_f32({&x})) return mean(autocast::upper(x), dims_in, keepdim);
        // f16/bf16: sum and divide in f32, round once (a rounded sum divided would round twice).
        if (is_reduced_float(x.dtype())) return cast(mean(cast(x, DType::f32), dims_in, keepdim), x.dtype());
        check_floating("mean", x);
        Shape dims = reduction_dims(dims_in, x.dim(), "mean");
        int64_t count = 1;
        for (int64_t d : dims) count *= x.shape()[d];
        return sum(x, dims, keepdim) / static_cast<double>(count);
      },
      [&] {
        return trace::OpRecord{{x}, {{"dims", dims_in}, {"keepdim", int64_t{keepdim}}}};
      });
}

Tensor amax(const Tensor& x, const Shape& dims_in, bool keepdim) {
  check_defined("amax", x);
  Shape dims = reduction_dims(dims_in, x.dim(), "amax");
  Tensor out = run_reduce(ReduceKernel::max, x, dims, keepdim, nullptr, "amax");
  if (autograd::needs_grad({&x}))
    record(
        "amax", {x}, out,
        [x, dims, keepdim](const Tensor& g, const Tensor& y) {
          return Grads{extreme_backward(g, x, y, dims, keepdim)};
        },
        true);
  return out;
}

Tensor amin(const Tensor& x, const Shape& dims_in, bool keepdim) {
  check_defined("amin", x);
  Shape dims = reduction_dims(dims_in, x.dim(), "amin");
  Tensor out = run_reduce(ReduceKernel::min, x, dims, keepdim, nullptr, "amin");
  if (autograd::needs_grad({&x}))
    record(
        "amin", {x}, out,
        [x, dims, keepdim](const Tensor& g, const Tensor& y) {
          return Grads{extreme_backward(g, x, y, dims, keepdim)};
        },
        true);
  return out;
}

namespace {
ValuesIndices extreme_dim(ReduceKernel k, const Tensor& x, int64_t dim, bool keepdim, autograd::OpName op) {
  check_defined(op, x);
  KILN_CHECK(x.dim() > 0, op, ": needs at least one dimension, got a 0-d tensor");
  Shape dims{wrap_dim(dim, x.dim(), op)};
  Tensor indices;
  Tensor values = run_reduce(k, x, dims, keepdim, &indices, op);
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    Tensor idx = restore_reduced_dims(indices, in_shape, dims, keepdim);
    int64_t d = dims[0];
    // The gradient goes to the returned index only (PyTorch's max(dim) semantics).
    record(op, {x}, values, [in_shape, idx, d, dims, keepdim](const Tensor& g, const Tensor&) {
      Tensor gk = restore_reduced_dims(g, in_shape, dims, keepdim);
      return Grads{scatter_add(zeros(in_shape, {.dtype = g.dtype(), .device = g.device()}), d, idx, gk)};
    });
  }
  return {values, indices};
}
}  // namespace

ValuesIndices max(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim(ReduceKernel::max, x, dim, keepdim, "max_dim");
}
ValuesIndices min(const Tensor& x, int64_t dim, bool keepdim) {
  return extreme_dim(ReduceKernel::min, x, dim, keepdim, "min_dim");
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  check_defined("argmax", x);
  return run_reduce(ReduceKernel::argmax, x, {wrap_dim(dim, x.dim(), "argmax")}, keepdim, nullptr, "argmax");
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  check_defined("argmin", x);
  return run_reduce(ReduceKernel::argmin, x, {wrap_dim(dim, x.dim(), "argmin")}, keepdim, nullptr, "argmin");
}

Tensor logsumexp(const Tensor& x, const Shape& dims_in, bool keepdim) {
  check_defined("logsumexp", x);
  check_floating("logsumexp", x);
  Shape dims = reduction_dims(dims_in, x.dim(), "logsumexp");
  // Shift by the (constant) max for stability; a -inf/inf max is replaced by 0 so it cannot make nan.
  Tensor m;
  {
    NoGradGuard no_grad;
    m = amax(x, dims, true);
    m = where(logical_not(eq(abs(m), scalar_like(INFINITY, m))), m, 0.0);
  }
  Tensor s = log(sum(exp(x - m), dims, true)) + m;
  return keepdim ? s : reshape(s, reduced_shape(x.shape(), dims, false));
}

Tensor var(const Tensor& x, const Shape& dims_in, int64_t correction, bool keepdim) {
  check_defined("var", x);
  check_floating("var", x);
  Shape dims = reduction_dims(dims_in, x.dim(), "var");
  int64_t count = 1;
  for (int64_t d : dims) count *= x.shape()[d];
  Tensor centered = x - mean(x, dims, true);
  return sum(square(centered), dims, keepdim) / static_cast<double>(std::max<int64_t>(count - correction, 0));
}

Tensor std(const Tensor& x, const Shape& dims, int64_t correction, bool keepdim) {
  return sqrt(var(x, dims, correction, keepdim));
}

Tensor norm(const Tensor& x, double p, const Shape& dims_in, bool keepdim) {
  check_defined("norm", x);
  check_floating("norm", x);
  KILN_CHECK(p > 0, "norm: p must be positive, got ", p);
  Shape dims = reduction_dims(dims_in, x.dim(), "norm");
  Tensor s = p == 2.0 ? sum(square(x), dims, keepdim) : sum(pow(abs(x), p), dims, keepdim);
  // At a zero vector the p-norm's gradient is taken as zero (a subgradient), not nan: differentiate
  // through a safe value there.
  Tensor zero = eq(s, scalar_like(0, s));
  Tensor safe = where(zero, 1.0, s);
  Tensor r = p == 2.0 ? sqrt(safe) : pow(safe, 1.0 / p);
  return where(zero, 0.0, r);
}

}  // namespace kiln
