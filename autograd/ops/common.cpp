// Shared op helpers: device/dtype checks, scalar operands, broadcasting and its reverse.
#include "kiln/autograd/ops/common.h"

#include <algorithm>

namespace kiln::autograd::detail {

void check_defined(const char* op, const Tensor& x, const char* what) {
  KILN_CHECK(x.defined(), op, ": ", what, " is an undefined tensor");
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t->defined()) continue;
    if (!first) first = t;
    KILN_CHECK(t->device() == first->device(), op, ": expected all tensors on one device, got ",
               first->device(), " (shape ", shape_str(first->shape()), ") and ", t->device(), " (shape ",
               shape_str(t->shape()), "); move them with .to(device)");
  }
}

void check_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtype mismatch, ", a.dtype(), " ", shape_str(a.shape()), " vs ",
             b.dtype(), " ", shape_str(b.shape()), " (convert one with .to(dtype))");
}

void check_floating(const char* op, const Tensor& x) {
  KILN_CHECK(is_floating(x.dtype()), op, ": needs a floating tensor, got ", x.dtype(), " ",
             shape_str(x.shape()));
}

}  // namespace kiln::autograd::detail

namespace kiln {
namespace {
int category(DType t) { return t == DType::boolean ? 0 : is_floating(t) ? 2 : 1; }
int integer_rank(DType t) {
  switch (t) {
    case DType::boolean:
      return 0;
    case DType::u8:
      return 1;
    case DType::i32:
      return 2;
    default:
      return 3;  // i64
  }
}
}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (category(a) != category(b)) return category(a) > category(b) ? a : b;
  if (category(a) < 2) return integer_rank(a) > integer_rank(b) ? a : b;
  if (a == DType::f64 || b == DType::f64) return DType::f64;
  return DType::f32;  // f32 with f16/bf16, or f16 with bf16
}

DType result_type(const Tensor& a, const Tensor& b) {
  const bool a0 = a.dim() == 0, b0 = b.dim() == 0;
  if (a0 != b0) {
    const Tensor& shaped = a0 ? b : a;
    const Tensor& zero_d = a0 ? a : b;
    if (category(zero_d.dtype()) <= category(shaped.dtype())) return shaped.dtype();
  }
  return promote_types(a.dtype(), b.dtype());
}
}  // namespace kiln

namespace kiln::autograd::detail {

std::pair<Tensor, Tensor> promote_operands(const Tensor& a, const Tensor& b) {
  if (a.dtype() == b.dtype()) return {a, b};
  const DType t = result_type(a, b);
  return {cast(a, t), cast(b, t)};
}

Tensor scalar_like(double value, const Tensor& like) {
  return full({}, value, {.dtype = like.dtype(), .device = like.device()});
}

Tensor broadcast_view(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x.detach();
  Shape strides(shape.size(), 0);
  int64_t lead = static_cast<int64_t>(shape.size()) - x.dim();
  KILN_ASSERT(lead >= 0, "broadcast_view to fewer dims");
  for (int64_t i = 0; i < x.dim(); ++i) {
    KILN_ASSERT(x.shape()[i] == shape[lead + i] || x.shape()[i] == 1, "broadcast_view: bad shape");
    strides[lead + i] = x.shape()[i] == 1 ? 0 : x.strides()[i];
  }
  return as_strided(x, shape, strides, x.offset());
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Shape dims;
  int64_t lead = g.dim() - static_cast<int64_t>(shape.size());
  for (int64_t i = 0; i < g.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) dims.push_back(i);
  Tensor s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return s.shape() == shape ? s : reshape(s, shape);
}

Tensor run_unary(UnaryKernel k, const Tensor& x, double alpha) {
  const Backend& be = backend(x.device());
  if (!be.supports(k, x.dtype())) [[unlikely]]
    throw_unsupported(kernel_name(k), x.device(), x.dtype(), " (input shape " + shape_str(x.shape()) + ")");
  Tensor out = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  if (out.numel() > 0) be.unary(k, x, out, alpha);
  return out;
}

Tensor run_binary(BinaryKernel k, const Tensor& a, const Tensor& b, const char* op) {
  check_defined(op, a, "first operand");
  check_defined(op, b, "second operand");
  check_same_device(op, {&a, &b});
  if (a.dtype() != b.dtype()) {
    auto [pa, pb] = promote_operands(a, b);
    return run_binary(k, pa, pb, op);
  }
  const Backend& be = backend(a.device());
  check_supported(k, a.dtype(), a.device(), op);
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = empty(shape, {.dtype = writes_bool(k) ? DType::boolean : a.dtype(), .device = a.device()});
  if (out.numel() > 0) be.binary(k, broadcast_view(a, shape), broadcast_view(b, shape), out);
  return out;
}

Shape reduction_dims(const Shape& dims, int64_t ndim, const char* op) {
  Shape out;
  if (dims.empty()) {
    for (int64_t i = 0; i < ndim; ++i) out.push_back(i);
    return out;
  }
  for (int64_t d : dims) out.push_back(wrap_dim(d, ndim, op));
  std::sort(out.begin(), out.end());
  KILN_CHECK(std::adjacent_find(out.begin(), out.end()) == out.end(), op, ": dim repeated in ",
             shape_str(dims));
  if (ndim == 0) out.clear();
  return out;
}

Shape reduced_shape(const Shape& shape, const Shape& dims, bool keepdim) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    bool reduced = std::find(dims.begin(), dims.end(), i) != dims.end();
    if (!reduced)
      out.push_back(shape[i]);
    else if (keepdim)
      out.push_back(1);
  }
  return out;
}

Tensor restore_reduced_dims(const Tensor& t, const Shape& input_shape, const Shape& dims, bool keepdim) {
  if (keepdim) return t;
  return reshape(t, reduced_shape(input_shape, dims, true));
}

void check_integer_divisor(const char* op, const Tensor& dividend, const Tensor& divisor) {
  if (!dividend.defined() || !divisor.defined() || !is_integral(dividend.dtype())) return;
  if (divisor.dtype() != dividend.dtype() || divisor.numel() == 0) return;
  NoGradGuard no_grad;
  KILN_CHECK(!amax(eq(divisor, scalar_like(0, divisor))).item<bool>(), op,
             ": integer division by zero (divisor of shape ", shape_str(divisor.shape()), ")");
}

void check_index_range(const Tensor& index, int64_t lo, int64_t hi, const char* op, const char* what,
                       std::optional<int64_t> allowed, const char* detail) {
  KILN_CHECK(index.dtype() == DType::i64, op, ": index must be i64, got ", index.dtype());
  if (index.numel() == 0) return;
  IndexCheck check{.op = op,
                   .what = what,
                   .lo = lo,
                   .hi = hi,
                   .has_allowed = allowed.has_value(),
                   .allowed = allowed.value_or(0),
                   .detail = detail};
  backend(index.device()).check_index(index.detach(), check);
}

}  // namespace kiln::autograd::detail
