// In-place arithmetic on tensors (the optimizer's tool). In-place writes are not recorded, so they are
// refused where they would silently corrupt a gradient: on a leaf that requires grad while recording, and
// on any tensor that is part of a recorded graph.
#include "kiln/autograd/ops/common.h"

namespace kiln {
using namespace autograd::detail;

namespace {
void check_inplace(const char* op, const Tensor& self) {
  check_defined(op, self);
  if (!autograd::GradMode::is_enabled()) return;
  KILN_CHECK(!(self.requires_grad() && self.is_leaf()), op, ": a leaf tensor that requires grad (shape ",
             shape_str(self.shape()),
             ") cannot be modified in place while gradients are recorded; wrap the update "
             "in kiln::NoGradGuard");
  KILN_CHECK(!self.requires_grad(), op, ": in-place ops on a tensor that is part of a recorded graph (shape ",
             shape_str(self.shape()), ") are not supported; use the out-of-place op");
}

// Writes kernel k(self, other broadcast to self) into self.
Tensor& apply_inplace(const char* op, BinaryKernel k, Tensor& self, const Tensor& other) {
  check_inplace(op, self);
  check_defined(op, other, "other");
  check_same_device(op, {&self, &other});
  check_same_dtype(op, self, other);
  Shape b = broadcast_shapes(self.shape(), other.shape(), op);
  KILN_CHECK(b == self.shape(), op, ": ", shape_str(other.shape()),
             " does not broadcast to the in-place target ", shape_str(self.shape()));
  const Backend& be = backend(self.device());
  check_supported(k, self.dtype(), self.device(), op);
  if (self.numel() > 0) be.binary(k, self.detach(), broadcast_view(other, self.shape()), self.detach());
  self.storage()->bump_version();
  return self;
}
}  // namespace

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  if (alpha == 1.0) return apply_inplace("add_", BinaryKernel::add, *this, other);
  NoGradGuard no_grad;
  return apply_inplace("add_", BinaryKernel::add, *this, other.detach() * alpha);
}
Tensor& Tensor::sub_(const Tensor& other, double alpha) {
  if (alpha == 1.0) return apply_inplace("sub_", BinaryKernel::sub, *this, other);
  NoGradGuard no_grad;
  return apply_inplace("sub_", BinaryKernel::sub, *this, other.detach() * alpha);
}
Tensor& Tensor::mul_(const Tensor& other) { return apply_inplace("mul_", BinaryKernel::mul, *this, other); }
Tensor& Tensor::div_(const Tensor& other) {
  check_integer_divisor("div_", *this, other);
  return apply_inplace("div_", BinaryKernel::div, *this, other);
}
Tensor& Tensor::add_(double value) {
  return apply_inplace("add_", BinaryKernel::add, *this, scalar_like(value, *this));
}
Tensor& Tensor::mul_(double value) {
  return apply_inplace("mul_", BinaryKernel::mul, *this, scalar_like(value, *this));
}
Tensor& Tensor::div_(double value) {
  Tensor divisor = scalar_like(value, *this);
  check_integer_divisor("div_", *this, divisor);
  return apply_inplace("div_", BinaryKernel::div, *this, divisor);
}

}  // namespace kiln
