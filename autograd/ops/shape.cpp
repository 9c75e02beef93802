// View ops: new shape/strides/offset over the same storage, recorded so gradients flow back.
#include <algorithm>
#include <numeric>
#include <optional>

#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

Tensor make_view(const Tensor& x, const Shape& shape, const Shape& strides, int64_t offset) {
  return as_strided(x, shape, strides, offset);
}

// Strides that let `new_shape` view the same elements as (shape, strides) in row-major order, or none
// when the view would need a copy (dims that are merged must be contiguous with each other).
std::optional<Shape> view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape) {
  Shape out(new_shape.size());
  if (shape_numel(shape) == 0 || shape.empty()) return contiguous_strides(new_shape);
  int64_t view_d = static_cast<int64_t>(new_shape.size()) - 1;
  int64_t chunk_base_stride = strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    // A chunk of old dims ends where the next older dim is not contiguous with this one.
    if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d] == 1)) {
        out[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base_stride = strides[d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  bool zero = false;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      KILN_CHECK(infer < 0, op, ": only one size may be -1 in ", shape_str(shape));
      infer = static_cast<int64_t>(i);
    } else {
      KILN_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in ", shape_str(shape));
      known = out[i] == 0 ? 0 : checked_mul(known == 0 ? 1 : known, out[i], op, "size product");
      if (out[i] == 0) zero = true;
    }
  }
  if (infer >= 0) {
    KILN_CHECK(!zero && numel % known == 0, op, ": cannot reshape ", shape_str(from), " (", numel,
               " elements) into ", shape_str(shape));
    out[infer] = numel / known;
  }
  KILN_CHECK(shape_numel(out) == numel, op, ": cannot reshape ", shape_str(from), " (", numel,
             " elements) into ", shape_str(shape), " (", shape_numel(out), " elements)");
  return out;
}

void record_reshape_back(autograd::OpName name, const Tensor& x, Tensor& out) {
  if (!autograd::needs_grad({&x})) return;
  Shape in_shape = x.shape();
  record(name, {x}, out, [in_shape](const Tensor& g, const Tensor&) { return Grads{reshape(g, in_shape)}; });
}

// The gradient of a strided sub-view: g placed into zeros of the input's shape. Recorded itself (its
// backward takes the same sub-view of the incoming gradient) so that double backward works.
Tensor embed_slice(const Tensor& g, const Shape& in_shape, int64_t dim, int64_t start, int64_t step,
                   bool squeezed) {
  Tensor out = zeros(in_shape, {.dtype = g.dtype(), .device = g.device()});
  int64_t len = squeezed ? 1 : g.size(dim);
  Shape strides = out.strides();
  Shape shape = out.shape();
  shape[dim] = len;
  strides[dim] *= step;
  Tensor window = as_strided(out, shape, strides, start * out.strides()[dim]);
  window.copy_(squeezed ? g.detach().reshape(shape) : g.detach());
  if (autograd::needs_grad({&g})) {
    record("slice_backward", {g}, out, [dim, start, step, len, squeezed](const Tensor& gg, const Tensor&) {
      Tensor s = slice(gg, dim, start, start + (len - 1) * step + 1, step);
      return Grads{squeezed ? squeeze(s, dim) : s};
    });
  }
  return out;
}
}  // namespace

Tensor view(const Tensor& x, const Shape& shape_in) {
  return trace::traced(
      "reshape",
      [&]() -> Tensor {
        check_defined("view", x);
        Shape shape = infer_shape(shape_in, x.numel(), "view", x.shape());
        auto strides = view_strides(x.shape(), x.strides(), shape);
        KILN_CHECK(strides.has_value(), "view: a tensor of shape ", shape_str(x.shape()), " and strides ",
                   shape_str(x.strides()), " cannot be viewed as ", shape_str(shape),
                   " without a copy (use reshape, or contiguous() first)");
        Tensor out = make_view(x, shape, *strides, x.offset());
        record_reshape_back("view", x, out);
        return out;
      },
      [&] { return trace::OpRecord{{x}}; });
}

Tensor reshape(const Tensor& x, const Shape& shape_in) {
  return trace::traced(
      "reshape",
      [&]() -> Tensor {
        check_defined("reshape", x);
        Shape shape = infer_shape(shape_in, x.numel(), "reshape", x.shape());
        if (auto strides = view_strides(x.shape(), x.strides(), shape)) {
          Tensor out = make_view(x, shape, *strides, x.offset());
          record_reshape_back("reshape", x, out);
          return out;
        }
        return view(contiguous(x), shape);
      },
      [&] { return trace::OpRecord{{x}}; });
}

Tensor flatten(const Tensor& x, int64_t start_dim, int64_t end_dim) {
  check_defined("flatten", x);
  if (x.dim() == 0) return reshape(x, {1});
  int64_t s = wrap_dim(start_dim, x.dim(), "flatten"), e = wrap_dim(end_dim, x.dim(), "flatten");
  KILN_CHECK(s <= e, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape shape(x.shape().begin(), x.shape().begin() + s);
  int64_t n = 1;
  for (int64_t d = s; d <= e; ++d) n *= x.shape()[d];
  shape.push_back(n);
  shape.insert(shape.end(), x.shape().begin() + e + 1, x.shape().end());
  return reshape(x, shape);
}

Tensor permute(const Tensor& x, const Shape& dims) {
  return trace::traced(
      "permute",
      [&]() -> Tensor {
        check_defined("permute", x);
        KILN_CHECK(static_cast<int64_t>(dims.size()) == x.dim(), "permute: ", dims.size(),
                   " dims given for a tensor of shape ", shape_str(x.shape()));
        Shape shape(dims.size()), strides(dims.size()), inverse(dims.size()), seen(dims.size(), 0);
        for (size_t i = 0; i < dims.size(); ++i) {
          int64_t d = wrap_dim(dims[i], x.dim(), "permute");
          KILN_CHECK(!seen[d]++, "permute: dim ", d, " repeated in ", shape_str(dims));
          shape[i] = x.shape()[d], strides[i] = x.strides()[d], inverse[d] = static_cast<int64_t>(i);
        }
        Tensor out = make_view(x, shape, strides, x.offset());
        if (autograd::needs_grad({&x}))
          record("permute", {x}, out,
                 [inverse](const Tensor& g, const Tensor&) { return Grads{permute(g, inverse)}; });
        return out;
      },
      [&] {
        return trace::OpRecord{{x}, {{"dims", dims}}};
      });
}

Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  check_defined("transpose", x);
  if (x.dim() == 0) return x;
  Shape perm(x.dim());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[wrap_dim(dim0, x.dim(), "transpose")], perm[wrap_dim(dim1, x.dim(), "transpose")]);
  return permute(x, perm);
}

Tensor squeeze(const Tensor& x) {
  return trace::traced(
      "reshape",
      [&]() -> Tensor {
        check_defined("squeeze", x);
        Shape shape, strides;
        for (int64_t d = 0; d < x.dim(); ++d)
          if (x.shape()[d] != 1) shape.push_back(x.shape()[d]), strides.push_back(x.strides()[d]);
        Tensor out = make_view(x, shape, strides, x.offset());
        record_reshape_back("squeeze", x, out);
        return out;
      },
      [&] { return trace::OpRecord{{x}}; });
}

Tensor squeeze(const Tensor& x, int64_t dim) {
  return trace::traced(
      "reshape",
      [&]() -> Tensor {
        check_defined("squeeze", x);
        if (x.dim() == 0) return x;
        int64_t d = wrap_dim(dim, x.dim(), "squeeze");
        if (x.shape()[d] != 1) return x;  // as in PyTorch: squeezing a dim that is not 1 is a no-op
        Shape shape = x.shape(), strides = x.strides();
        shape.erase(shape.begin() + d), strides.erase(strides.begin() + d);
        Tensor out = make_view(x, shape, strides, x.offset());
        record_reshape_back("squeeze", x, out);
        return out;
      },
      [&] { return trace::OpRecord{{x}}; });
}

Tensor unsqueeze(const Tensor& x, int64_t dim) {
  return trace::traced(
      "reshape",
      [&]() -> Tensor {
        check_defined("unsqueeze", x);
        int64_t d = wrap_dim(dim, x.dim() + 1, "unsqueeze");
        Shape shape = x.shape(), strides = x.strides();
        int64_t st = d < x.dim() ? strides[d] * shape[d] : 1;
        shape.insert(shape.begin() + d, 1), strides.insert(strides.begin() + d, st);
        Tensor out = make_view(x, shape, strides, x.offset());
        record_reshape_back("unsqueeze", x, out);
        return out;
      },
      [&] { return trace::OpRecord{{x}}; });
}

Tensor expand(const Tensor& x, const Shape& shape_in) {
  check_defined("expand", x);
  KILN_CHECK(static_cast<int64_t>(shape_in.size()) >= x.dim(), "expand: cannot expand ", shape_str(x.shape()),
             " to fewer dims ", shape_str(shape_in));
  Shape shape = shape_in;
  int64_t lead = static_cast<int64_t>(shape.size()) - x.dim();
  for (int64_t i = 0; i < x.dim(); ++i) {
    if (shape[lead + i] == -1) shape[lead + i] = x.shape()[i];
    KILN_CHECK(x.shape()[i] == 1 || x.shape()[i] == shape[lead + i], "expand: cannot expand ",
               shape_str(x.shape()), " to ", shape_str(shape_in), " (dim ", i, " has size ", x.shape()[i],
               ", only size-1 dims expand)");
  }
  for (size_t j = 0; j < shape.size(); ++j)
    KILN_CHECK(shape[j] >= 0, "expand: size ", shape_in[j], " at dim ", j, " of ", shape_str(shape_in),
               " is invalid (-1 keeps an existing dim's size; new leading dims need a size >= 0)");
  if (shape == x.shape()) return x;
  Tensor out = broadcast_view(x, shape);
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    record("expand", {x}, out,
           [in_shape](const Tensor& g, const Tensor&) { return Grads{sum_to(g, in_shape)}; });
  }
  return out;
}

Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
  check_defined("slice", x);
  KILN_CHECK(x.dim() > 0, "slice: cannot slice a 0-d tensor");
  KILN_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t d = wrap_dim(dim, x.dim(), "slice"), n = x.shape()[d];
  // Python-style clamping of start/end.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape shape = x.shape(), strides = x.strides();
  shape[d] = (end - start + step - 1) / step;
  strides[d] *= step;
  Tensor out = make_view(x, shape, strides, x.offset() + start * x.strides()[d]);
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    record("slice", {x}, out, [in_shape, d, start, step](const Tensor& g, const Tensor&) {
      return Grads{embed_slice(g, in_shape, d, start, step, false)};
    });
  }
  return out;
}

Tensor narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  check_defined("narrow", x);
  KILN_CHECK(x.dim() > 0, "narrow: cannot narrow a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "narrow"), n = x.shape()[d];
  if (start < 0) start += n;
  KILN_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: start ", start, " length ", length,
             " is out of range for dim ", d, " of size ", n, " (shape ", shape_str(x.shape()), ")");
  return slice(x, d, start, start + length, 1);
}

Tensor select(const Tensor& x, int64_t dim, int64_t index) {
  check_defined("select", x);
  KILN_CHECK(x.dim() > 0, "select: cannot select from a 0-d tensor");
  int64_t d = wrap_dim(dim, x.dim(), "select"), n = x.shape()[d];
  KILN_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", d, " of size ",
             n, " (shape ", shape_str(x.shape()), ")");
  if (index < 0) index += n;
  Shape shape = x.shape(), strides = x.strides();
  int64_t offset = x.offset() + index * strides[d];
  shape.erase(shape.begin() + d), strides.erase(strides.begin() + d);
  Tensor out = make_view(x, shape, strides, offset);
  if (autograd::needs_grad({&x})) {
    Shape in_shape = x.shape();
    record("select", {x}, out, [in_shape, d, index](const Tensor& g, const Tensor&) {
      return Grads{embed_slice(g, in_shape, d, index, 1, true)};
    });
  }
  return out;
}

}  // namespace kiln
