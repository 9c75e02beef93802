// kiln/kernels/shared/activation_math.h: the activations and their derivatives on one element, the one
// definition of each formula: the CPU's unary and fused kernels and the CUDA kernels all call these, so
// an activation gives the same bits through either kernel (where a backend's vectorized form does not
// replace it) and on either device. T is the compute type (compute_type.h). Depends on host_device.h and
// tensor/activation.h.
#pragma once

#include <cmath>
#include <type_traits>

#include "kiln/kernels/shared/host_device.h"
#include "kiln/tensor/activation.h"

namespace kiln::scalar {

// The host takes std::'s overloads; nvcc's device pass takes CUDA's (erff for float, erf for double).
#if !defined(__CUDA_ARCH__)
using std::erf;
using std::exp;
using std::fabs;
using std::log1p;
using std::tanh;
#endif

template <class T>
KILN_HOST_DEVICE T relu(T x) {
  return x > T(0) ? x : T(0);
}
template <class T>
KILN_HOST_DEVICE T leaky_relu(T x, T negative_slope) {
  return x > T(0) ? x : x * negative_slope;
}
// 1 / (1 + e^-x): exp overflows to inf for very negative x, giving exactly 0, as it should.
template <class T>
KILN_HOST_DEVICE T sigmoid(T x) {
  return T(1) / (T(1) + exp(-x));
}
template <class T>
KILN_HOST_DEVICE T silu(T x) {
  return x / (T(1) + exp(-x));
}
// The exact (erf) form, PyTorch's default.
template <class T>
KILN_HOST_DEVICE T gelu(T x) {
  return T(0.5) * x * (T(1) + erf(x * T(M_SQRT1_2)));
}
// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow at any x.
template <class T>
KILN_HOST_DEVICE T softplus(T x) {
  return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
}

// act(z); alpha is leaky_relu's negative slope.
template <class T>
KILN_HOST_DEVICE T activate(Activation act, T z, T alpha) {
  switch (act) {
    case Activation::none:
      return z;
    case Activation::relu:
      return relu(z);
    case Activation::gelu:
      return gelu(z);
    case Activation::silu:
      return silu(z);
    case Activation::sigmoid:
      return sigmoid(z);
    case Activation::tanh:
      return tanh(z);
    case Activation::leaky_relu:
      return leaky_relu(z, alpha);
  }
  return z;
}

// g act'(z), from the output y when !reads_input(A) and from the input z otherwise (the other argument is
// not read), in the operation order of the unfused ops' backward formulas (autograd/ops/unary.cpp).
template <Activation A, class T>
KILN_HOST_DEVICE T activation_grad(T g, T z, T y, T alpha) {
  if constexpr (A == Activation::none) {
    return g;
  } else if constexpr (A == Activation::relu) {
    return y > T(0) ? g : T(0);
  } else if constexpr (A == Activation::sigmoid) {
    return g * y * (T(1) - y);
  } else if constexpr (A == Activation::tanh) {
    return g * (T(1) - y * y);
  } else if constexpr (A == Activation::leaky_relu) {
    return z > T(0) ? g : g * alpha;
  } else if constexpr (A == Activation::silu) {
    const T s = sigmoid(z);
    return g * s * (z * (T(1) - s) + T(1));
  } else {
    static_assert(A == Activation::gelu);
    const T cdf = (erf(z * T(M_SQRT1_2)) + T(1)) * T(0.5);
    const T pdf = exp(z * z * T(-0.5)) * T(0.5 * M_2_SQRTPI * M_SQRT1_2);
    return g * (cdf + z * pdf);
  }
}

// Calls f(std::integral_constant<Activation, act>{}): a loop instantiated per activation keeps the switch
// out of its body.
template <class F>
KILN_HOST_DEVICE decltype(auto) with_activation(Activation act, F&& f) {
  using A = Activation;
  switch (act) {
    case A::relu:
      return f(std::integral_constant<A, A::relu>{});
    case A::gelu:
      return f(std::integral_constant<A, A::gelu>{});
    case A::silu:
      return f(std::integral_constant<A, A::silu>{});
    case A::sigmoid:
      return f(std::integral_constant<A, A::sigmoid>{});
    case A::tanh:
      return f(std::integral_constant<A, A::tanh>{});
    case A::leaky_relu:
      return f(std::integral_constant<A, A::leaky_relu>{});
    case A::none:
      break;
  }
  return f(std::integral_constant<A, A::none>{});
}

// activation_grad with the activation chosen at run time (one element per thread on a device).
template <class T>
KILN_HOST_DEVICE T activation_grad(Activation act, T g, T z, T y, T alpha) {
  return with_activation(act, [&](auto a) { return activation_grad<decltype(a)::value>(g, z, y, alpha); });
}

}  // namespace kiln::scalar
