// Elementwise binary ops with NumPy broadcasting, comparisons, where and clamp. Gradients are summed
// back to each operand's shape by sum_to.
#include <cmath>

#include "kiln/autograd/ops/common.h"

namespace kiln {
using autograd::record;
using namespace autograd::detail;

namespace {
using Grads = std::vector<Tensor>;

// Runs kernel k on (a, b) and records backward(g, a, b, out) -> {grad_a, grad_b} (before un-broadcast).
// saves_inputs: backward reads a and b (so in-place changes to them before backward are an error).
template <class F>
Tensor binary_op(autograd::OpName name, BinaryKernel k, const Tensor& a, const Tensor& b, F backward,
                 bool saves_inputs = true) {
  check_defined(name, a, "first operand");
  check_defined(name, b, "second operand");
  // Mixed dtypes: promote through recorded casts, so each operand's gradient returns in its own dtype.
  if (a.dtype() != b.dtype()) {
    auto [pa, pb] = promote_operands(a, b);
    return binary_op(name, k, pa, pb, backward, saves_inputs);
  }
  Tensor out = run_binary(k, a, b, name);
  if (autograd::needs_grad({&a, &b})) {
    record(
        name, {a, b}, out,
        [a, b, backward](const Tensor& g, const Tensor&) {
          Grads gr = backward(g, a, b);
          if (gr[0].defined()) gr[0] = sum_to(gr[0], a.shape());
          if (gr[1].defined()) gr[1] = sum_to(gr[1], b.shape());
          return gr;
        },
        /*save_output=*/false, saves_inputs);
  }
  return out;
}

bool wants(const Tensor& t) { return t.requires_grad(); }
}  // namespace

Tensor add(const Tensor& a, const Tensor& b, double alpha) {
  // A scaled b is traced as its own mul, before the add.
  const Tensor& rhs = alpha == 1.0 ? b : b * alpha;
  return trace::traced(
      "add",
      [&] {
        return binary_op(
            "add", BinaryKernel::add, a, rhs,
            [](const Tensor& g, const Tensor&, const Tensor&) {
              return Grads{g, g};
            },
            /*saves_inputs=*/false);
      },
      [&] {
        return trace::OpRecord{{a, rhs}};
      });
}
Tensor sub(const Tensor& a, const Tensor& b, double alpha) {
  const Tensor& rhs = alpha == 1.0 ? b : b * alpha;
  return trace::traced(
      "sub",
      [&] {
        return binary_op(
            "sub", BinaryKernel::sub, a, rhs,
            [](const Tensor& g, const Tensor&, const Tensor& b) {
              return Grads{g, wants(b) ? neg(g) : Tensor()};
            },
            /*saves_inputs=*/false);
      },
      [&] {
        return trace::OpRecord{{a, rhs}};
      });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  return trace::traced(
      "mul",
      [&] {
        return binary_op("mul", BinaryKernel::mul, a, b,
                         [](const Tensor& g, const Tensor& a, const Tensor& b) {
                           return Grads{wants(a) ? g * b : Tensor(), wants(b) ? g * a : Tensor()};
                         });
      },
      [&] {
        return trace::OpRecord{{a, b}};
      });
}
Tensor div(const Tensor& a, const Tensor& b) {
  check_integer_divisor("div", a, b);
  return trace::traced(
      "div",
      [&] {
        return binary_op(
            "div", BinaryKernel::div, a, b, [](const Tensor& g, const Tensor& a, const Tensor& b) {
              return Grads{wants(a) ? g / b : Tensor(), wants(b) ? neg(g * a / (b * b)) : Tensor()};
            });
      },
      [&] {
        return trace::OpRecord{{a, b}};
      });
}
Tensor pow(const Tensor& a, const Tensor& b) {
  return binary_op("pow", BinaryKernel::pow, a, b, [](const Tensor& g, const Tensor& a, const Tensor& b) {
    Tensor ga, gb;
    // d/da a^b = b a^(b-1), defined as 0 where b == 0 as in PyTorch: at a == 0 the product is 0 x inf, which
    // would make d/dx x^0, the second derivative of x^1 and the third of x^2 NaN at 0 (and through
    // broadcasting poison a whole summed gradient).
    if (wants(a)) ga = where(eq(b, scalar_like(0, b)), 0.0, g * b * pow(a, b - 1.0));
    // d/db a^b = a^b log a; PyTorch defines it as 0 where a == 0 (and b >= 0) instead of nan.
    if (wants(b)) gb = where(eq(a, scalar_like(0, a)), 0.0, g * pow(a, b) * log(a));
    return Grads{ga, gb};
  });
}
Tensor pow(const Tensor& a, double exponent) {
  check_defined("pow", a);
  return pow(a, scalar_like(exponent, a));
}
Tensor maximum(const Tensor& a, const Tensor& b) {
  trace::OpScope trace("maximum");
  Tensor out = binary_op("maximum", BinaryKernel::maximum, a, b,
                         [](const Tensor& g, const Tensor& a, const Tensor& b) {
                           Tensor half = where(eq(a, b), g * 0.5, g);
                           return Grads{wants(a) ? where(a >= b, half, 0.0) : Tensor(),
                                        wants(b) ? where(b >= a, half, 0.0) : Tensor()};
                         });
  if (trace) trace.report({a, b}, out);
  return out;
}
Tensor minimum(const Tensor& a, const Tensor& b) {
  trace::OpScope trace("minimum");
  Tensor out = binary_op("minimum", BinaryKernel::minimum, a, b,
                         [](const Tensor& g, const Tensor& a, const Tensor& b) {
                           Tensor half = where(eq(a, b), g * 0.5, g);
                           return Grads{wants(a) ? where(a <= b, half, 0.0) : Tensor(),
                                        wants(b) ? where(b <= a, half, 0.0) : Tensor()};
                         });
  if (trace) trace.report({a, b}, out);
  return out;
}

Tensor eq(const Tensor& a, const Tensor& b) { return run_binary(BinaryKernel::eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return run_binary(BinaryKernel::ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return run_binary(BinaryKernel::lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return run_binary(BinaryKernel::le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return run_binary(BinaryKernel::gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return run_binary(BinaryKernel::ge, a, b, "ge"); }
Tensor logical_and(const Tensor& a, const Tensor& b) {
  return run_binary(BinaryKernel::logical_and, a, b, "logical_and");
}
Tensor logical_or(const Tensor& a, const Tensor& b) {
  return run_binary(BinaryKernel::logical_or, a, b, "logical_or");
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined("where", cond, "condition");
  check_defined("where", a, "first value");
  check_defined("where", b, "second value");
  check_same_device("where", {&cond, &a, &b});
  if (a.dtype() != b.dtype()) {
    auto [pa, pb] = promote_operands(a, b);
    return where(cond, pa, pb);
  }
  KILN_CHECK(cond.dtype() == DType::boolean, "where: the condition must be bool, got ", cond.dtype(), " ",
             shape_str(cond.shape()), " (compare first, e.g. x > 0)");
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(), "where");
  Tensor out = empty(shape, {.dtype = a.dtype(), .device = a.device()});
  if (out.numel() > 0)
    backend(a.device())
        .where(broadcast_view(cond, shape), broadcast_view(a, shape), broadcast_view(b, shape), out);
  if (autograd::needs_grad({&a, &b})) {
    Tensor c = cond.detach();
    record("where", {a, b}, out, [c, a, b](const Tensor& g, const Tensor&) {
      Tensor ga = a.requires_grad() ? sum_to(where(c, g, 0.0), a.shape()) : Tensor();
      Tensor gb = b.requires_grad() ? sum_to(where(c, 0.0, g), b.shape()) : Tensor();
      return Grads{ga, gb};
    });
  }
  return out;
}
Tensor where(const Tensor& cond, const Tensor& a, double b) { return where(cond, a, scalar_like(b, a)); }
Tensor where(const Tensor& cond, double a, const Tensor& b) { return where(cond, scalar_like(a, b), b); }

Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi) {
  check_defined("clamp", x);
  trace::OpScope trace("clamp");
  // Composite: min(max(x, lo), hi), so min > max gives max everywhere, as PyTorch does; the gradient passes
  // exactly where lo <= x <= hi (nowhere when min > max), as in PyTorch.
  Tensor out = x;
  if (lo) out = where(x < *lo, scalar_like(*lo, x), out);
  if (hi) out = where(out > *hi, scalar_like(*hi, x), out);
  if (trace) {
    trace::Attrs attrs;
    if (lo) attrs.emplace_back("min", *lo);
    if (hi) attrs.emplace_back("max", *hi);
    trace.report({x}, out, attrs);
  }
  return out;
}

// ---- operators ----
namespace {
// A C++ double next to a tensor acts as a Python number does in PyTorch's type promotion: it takes the
// tensor's dtype, except that a non-integral (or non-finite) value next to an integer or bool tensor is a
// float32 number, so the result is float ([7] * 2.5 is 17.5, not 14).
Tensor number_like(double value, const Tensor& like) {
  check_defined("a tensor-number operator", like);
  const bool integral_tensor = !is_floating(like.dtype());
  if (integral_tensor && !(std::isfinite(value) && value == std::floor(value)))
    return full({}, value, {.dtype = DType::f32, .device = like.device()});
  return scalar_like(value, like);
}
}  // namespace

Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& a, double b) { return add(a, number_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, number_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, number_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, number_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(number_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(number_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(number_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(number_like(a, b), b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<(const Tensor& a, double b) { return lt(a, scalar_like(b, a)); }
Tensor operator<=(const Tensor& a, double b) { return le(a, scalar_like(b, a)); }
Tensor operator>(const Tensor& a, double b) { return gt(a, scalar_like(b, a)); }
Tensor operator>=(const Tensor& a, double b) { return ge(a, scalar_like(b, a)); }

}  // namespace kiln
