// Elementwise unary ops: one kernel forward each, backward written with ops (so it is differentiable).
#include <cmath>

#include "kiln/autograd/autocast.h"
#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

// Runs kernel k and records `backward(g, x, y)` where it is needed.
// ReadsX: the backward reads x, not only the saved output, so x must not change before backward runs.
template <bool ReadsX = true, class F>
Tensor unary_op(autograd::OpName name, UnaryKernel k, const Tensor& x, F backward, double alpha = 0.0) {
  check_defined(name, x);
  // PyTorch's promotion: a floating function (exp, log, sqrt, ...) of an integer or bool tensor is computed
  // in float32 (the default dtype) instead of being refused.
  const Backend& be = backend(x.device());
  if (!is_floating(x.dtype()) && !be.supports(k, x.dtype()) && be.supports(k, DType::f32))
    return unary_op<ReadsX>(name, k, x.to(DType::f32), backward, alpha);
  Tensor y = run_unary(k, x, alpha);
  if (autograd::needs_grad({&x})) {
    record(
        name, {x}, y,
        [x, backward](const Tensor& g, const Tensor& out) { return Grads{backward(g, x, out)}; },
        /*save_output=*/true, /*save_inputs=*/ReadsX);
  }
  return y;
}
}  // namespace

Tensor neg(const Tensor& x) {
  return unary_op</*ReadsX=*/false>("neg", UnaryKernel::neg, x,
                                    [](const Tensor& g, const Tensor&, const Tensor&) { return neg(g); });
}
Tensor abs(const Tensor& x) {
  return unary_op("abs", UnaryKernel::abs, x,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return g * sign(x); });
}
Tensor sign(const Tensor& x) {
  check_defined("sign", x);
  return run_unary(UnaryKernel::sign, x);  // zero gradient: not recorded
}
Tensor exp(const Tensor& x) {
  if (autocast::needs_f32({&x})) return exp(autocast::upper(x));
  return unary_op</*ReadsX=*/false>("exp", UnaryKernel::exp, x,
                                    [](const Tensor& g, const Tensor&, const Tensor& y) { return g * y; });
}
Tensor log(const Tensor& x) {
  if (autocast::needs_f32({&x})) return log(autocast::upper(x));
  return unary_op("log", UnaryKernel::log, x,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return g / x; });
}
Tensor log1p(const Tensor& x) {
  return unary_op("log1p", UnaryKernel::log1p, x,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return g / (x + 1.0); });
}
Tensor sqrt(const Tensor& x) {
  return unary_op</*ReadsX=*/false>(
      "sqrt", UnaryKernel::sqrt, x,
      [](const Tensor& g, const Tensor&, const Tensor& y) { return g / (y * 2.0); });
}
Tensor rsqrt(const Tensor& x) {
  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
  return unary_op</*ReadsX=*/false>(
      "rsqrt", UnaryKernel::rsqrt, x,
      [](const Tensor& g, const Tensor&, const Tensor& y) { return g * (y * y * y) * -0.5; });
}
Tensor square(const Tensor& x) {
  return unary_op("square", UnaryKernel::square, x,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return g * x * 2.0; });
}
Tensor sin(const Tensor& x) {
  return unary_op("sin", UnaryKernel::sin, x,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return g * cos(x); });
}
Tensor cos(const Tensor& x) {
  return unary_op("cos", UnaryKernel::cos, x,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return neg(g * sin(x)); });
}
Tensor tanh(const Tensor& x) {
  return trace::traced(
      "tanh",
      [&] {
        return unary_op</*ReadsX=*/false>(
            "tanh", UnaryKernel::tanh, x,
            [](const Tensor& g, const Tensor&, const Tensor& y) { return g * (1.0 - y * y); });
      },
      [&] { return trace::OpRecord{{x}}; });
}
Tensor sigmoid(const Tensor& x) {
  return trace::traced(
      "sigmoid",
      [&] {
        return unary_op</*ReadsX=*/false>(
            "sigmoid", UnaryKernel::sigmoid, x,
            [](const Tensor& g, const Tensor&, const Tensor& y) { return g * y * (1.0 - y); });
      },
      [&] { return trace::OpRecord{{x}}; });
}
Tensor relu(const Tensor& x) {
  return trace::traced(
      "relu",
      [&] {
        return unary_op("relu", UnaryKernel::relu, x, [](const Tensor& g, const Tensor& x, const Tensor&) {
          return where(x > 0.0, g, 0.0);
        });
      },
      [&] { return trace::OpRecord{{x}}; });
}
Tensor leaky_relu(const Tensor& x, double slope) {
  return trace::traced(
      "leaky_relu",
      [&] {
        return unary_op(
            "leaky_relu", UnaryKernel::leaky_relu, x,
            [slope](const Tensor& g, const Tensor& x, const Tensor&) { return where(x > 0.0, g, g * slope); },
            slope);
      },
      [&] {
        return trace::OpRecord{{x}, {{"negative_slope", slope}}};
      });
}
Tensor gelu(const Tensor& x) {
  // d/dx x Phi(x) = Phi(x) + x phi(x)
  return unary_op("gelu", UnaryKernel::gelu, x, [](const Tensor& g, const Tensor& x, const Tensor&) {
    Tensor cdf = (erf(x * M_SQRT1_2) + 1.0) * 0.5;
    Tensor pdf = exp(square(x) * -0.5) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
    return g * (cdf + x * pdf);
  });
}
Tensor silu(const Tensor& x) {
  // d/dx x s(x) = s(x) (1 + x (1 - s(x)))
  return unary_op("silu", UnaryKernel::silu, x, [](const Tensor& g, const Tensor& x, const Tensor&) {
    Tensor s = sigmoid(x);
    return g * s * (x * (1.0 - s) + 1.0);
  });
}
Tensor softplus(const Tensor& x) {
  return unary_op("softplus", UnaryKernel::softplus, x,
                  [](const Tensor& g, const Tensor& x, const Tensor&) { return g * sigmoid(x); });
}
Tensor erf(const Tensor& x) {
  return unary_op("erf", UnaryKernel::erf, x, [](const Tensor& g, const Tensor& x, const Tensor&) {
    return g * exp(neg(square(x))) * M_2_SQRTPI;
  });
}
Tensor reciprocal(const Tensor& x) {
  return unary_op</*ReadsX=*/false>(
      "reciprocal", UnaryKernel::reciprocal, x,
      [](const Tensor& g, const Tensor&, const Tensor& y) { return neg(g * y * y); });
}
Tensor logical_not(const Tensor& x) {
  check_defined("logical_not", x);
  KILN_CHECK(x.dtype() == DType::boolean, "logical_not: needs a bool tensor, got ", x.dtype());
  return run_unary(UnaryKernel::logical_not, x);
}

}  // namespace kiln
