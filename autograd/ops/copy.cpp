// Ops that copy data: contiguous, clone, cast, to_device, cat, stack, split.
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

Tensor dense_copy(const Tensor& x, DType dtype, Device device) {
  Tensor out = empty(x.shape(), {.dtype = dtype, .device = device});
  if (out.numel() == 0) return out;
  if (device == x.device()) {
    out.copy_(x.detach());
  } else {
    // Cross-device copies run on the non-CPU side's backend, same dtype, then convert in place.
    Tensor src = x.detach();
    Device side = device.is_cpu() ? x.device() : device;
    if (src.dtype() != dtype) {
      Tensor converted = empty(x.shape(), {.dtype = dtype, .device = x.device()});
      converted.copy_(src);
      src = converted;
    }
    backend(side).copy(src, out);
  }
  return out;
}
}  // namespace

Tensor contiguous(const Tensor& x) {
  return trace::traced(
      "identity",
      [&]() -> Tensor {
        check_defined("contiguous", x);
        if (x.is_contiguous()) return x;
        return clone(x);
      },
      [&] { return trace::OpRecord{{x}}; });
}

Tensor clone(const Tensor& x) {
  return trace::traced(
      "identity",
      [&]() -> Tensor {
        check_defined("clone", x);
        Tensor out = dense_copy(x, x.dtype(), x.device());
        if (autograd::needs_grad({&x}))
          record("clone", {x}, out, [](const Tensor& g, const Tensor&) { return Grads{g}; });
        return out;
      },
      [&] { return trace::OpRecord{{x}}; });
}

Tensor cast(const Tensor& x, DType dtype) {
  check_defined("cast", x);
  if (x.dtype() == dtype) return x;
  Tensor out = dense_copy(x, dtype, x.device());
  if (is_floating(dtype) && autograd::needs_grad({&x})) {
    DType from = x.dtype();
    record("cast", {x}, out, [from](const Tensor& g, const Tensor&) { return Grads{cast(g, from)}; });
  }
  return out;
}

Tensor to_device(const Tensor& x, Device device) {
  check_defined("to", x);
  if (x.device() == device) return x;
  Tensor out = dense_copy(x, x.dtype(), device);
  if (autograd::needs_grad({&x})) {
    Device from = x.device();
    record("to_device", {x}, out,
           [from](const Tensor& g, const Tensor&) { return Grads{to_device(g, from)}; });
  }
  return out;
}

Tensor cat(const std::vector<Tensor>& xs, int64_t dim) {
  KILN_CHECK(!xs.empty(), "cat: needs at least one tensor");
  // Mixed dtypes promote as in PyTorch (f32 with f64 gives f64), through recorded casts, so each operand's
  // gradient returns in its own dtype.
  DType common = xs[0].dtype();
  for (const Tensor& x : xs) {
    check_defined("cat", x);
    common = promote_types(common, x.dtype());
  }
  for (const Tensor& x : xs)
    if (x.dtype() != common) {
      std::vector<Tensor> cast_xs;
      for (const Tensor& y : xs) cast_xs.push_back(y.dtype() == common ? y : y.to(common));
      return cat(cast_xs, dim);
    }
  return trace::traced(
      "cat",
      [&]() -> Tensor {
        KILN_CHECK(!xs.empty(), "cat: needs at least one tensor");
        const Tensor& first = xs[0];
        check_defined("cat", first);
        KILN_CHECK(first.dim() > 0, "cat: cannot concatenate 0-d tensors (use stack)");
        int64_t d = wrap_dim(dim, first.dim(), "cat");
        Shape shape = first.shape();
        shape[d] = 0;
        for (size_t i = 0; i < xs.size(); ++i) {
          const Tensor& x = xs[i];
          check_defined("cat", x);
          check_same_device("cat", {&first, &x});
          check_same_dtype("cat", first, x);
          bool same_rank = x.dim() == first.dim();
          for (int64_t k = 0; same_rank && k < x.dim(); ++k)
            same_rank = k == d || x.shape()[k] == first.shape()[k];
          KILN_CHECK(same_rank, "cat: tensor ", i, " has shape ", shape_str(x.shape()),
                     ", which does not match ", shape_str(first.shape()), " except in dim ", d);
          shape[d] += x.shape()[d];
        }
        Tensor out = empty(shape, {.dtype = first.dtype(), .device = first.device()});
        Shape offsets, lengths;
        int64_t at = 0;
        for (const Tensor& x : xs) {
          int64_t len = x.shape()[d];
          if (len > 0) {
            Shape sub = shape;
            sub[d] = len;
            as_strided(out, sub, out.strides(), at * out.strides()[d]).copy_(x.detach());
          }
          offsets.push_back(at), lengths.push_back(len), at += len;
        }
        if (autograd::needs_grad(xs)) {
          record("cat", xs, out, [d, offsets, lengths](const Tensor& g, const Tensor&) {
            Grads grads;
            for (size_t i = 0; i < offsets.size(); ++i) grads.push_back(narrow(g, d, offsets[i], lengths[i]));
            return grads;
          });
        }
        return out;
      },
      [&] {
        return trace::OpRecord{xs, {{"dim", dim}}};
      });
}

Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
  KILN_CHECK(!xs.empty(), "stack: needs at least one tensor");
  check_defined("stack", xs[0]);
  int64_t d = wrap_dim(dim, xs[0].dim() + 1, "stack");
  std::vector<Tensor> expanded;
  for (size_t i = 0; i < xs.size(); ++i) {
    check_defined("stack", xs[i]);
    KILN_CHECK(xs[i].shape() == xs[0].shape(), "stack: tensor ", i, " has shape ", shape_str(xs[i].shape()),
               " but tensor 0 has ", shape_str(xs[0].shape()), " (stack needs equal shapes)");
    expanded.push_back(unsqueeze(xs[i], d));
  }
  return cat(expanded, d);
}

std::vector<Tensor> split(const Tensor& x, const Shape& sizes, int64_t dim) {
  check_defined("split", x);
  int64_t d = wrap_dim(dim, x.dim(), "split"), total = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0, "split: negative size in ", shape_str(sizes));
    total += s;
  }
  KILN_CHECK(total == x.shape()[d], "split: sizes ", shape_str(sizes), " add up to ", total, " but dim ", d,
             " has size ", x.shape()[d]);
  std::vector<Tensor> parts;
  int64_t at = 0;
  for (int64_t s : sizes) parts.push_back(narrow(x, d, at, s)), at += s;
  return parts;
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  check_defined("split", x);
  KILN_CHECK(split_size > 0, "split: split_size must be positive, got ", split_size);
  int64_t n = x.shape()[wrap_dim(dim, x.dim(), "split")];
  Shape sizes;
  for (int64_t at = 0; at < n; at += split_size) sizes.push_back(std::min(split_size, n - at));
  return split(x, sizes, dim);
}

}  // namespace kiln
