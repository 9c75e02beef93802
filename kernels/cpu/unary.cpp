// CPU elementwise unary kernels. Each op is a functor with a scalar form and, where Eigen vectorizes it,
// an array form used on contiguous rows of f32/f64.
#include <Eigen/Core>
#include <cmath>
#include <concepts>
#include <limits>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/kernels/cpu/eigen_rows.h"
#include "kiln/kernels/cpu/loops.h"
#include "kiln/kernels/shared/activation_math.h"

namespace kiln::cpu {
namespace {

struct NoArray {};

// log of the smallest normal number: exp(x) for x below it is denormal or 0.
template <class T>
constexpr T log_min_normal() {
  return std::is_same_v<T, float> ? T(-87.3365447f) : T(-708.3964185322641);
}

// clang-format off (one functor per line)
#define KILN_SCALAR(expr)   \
  template <class T>        \
  T operator()(T x) const { \
    return expr;            \
  }
#define KILN_ARRAY(expr)         \
  template <class A>             \
  auto array(const A& a) const { \
    return expr;                 \
  }

// No array form: Eigen negates a packet as 0 - a, which turns -0 into +0 (the compiler vectorizes -x).
struct Neg {
  KILN_SCALAR(static_cast<T>(-x))
};
struct Abs {
  template <class T>
  T operator()(T x) const {
    if constexpr (std::is_unsigned_v<T>) {
      return x;
    } else {
      return x < T(0) ? static_cast<T>(-x) : x;
    }
  }
  KILN_ARRAY(a.abs())
};
struct Sign {
  template <class T>
  T operator()(T x) const {
    if constexpr (std::is_same_v<T, bool>) {
      return x;
    } else {
      return static_cast<T>((T(0) < x) - (x < T(0)));
    }
  }
};
// Eigen's packet exp clamps its argument, so results that underflow into denormals or to 0 (x below
// about -87 in f32, -708 in f64, and -inf) come out as the smallest normal number: those take the scalar
// form.
struct Exp {
  template <class T>
  static bool needs_scalar(T x) {
    return x < log_min_normal<T>();
  }
  template <class A>
  static bool any_needs_scalar(const A& a) {
    return a.minCoeff() < log_min_normal<typename A::Scalar>();
  }
  KILN_SCALAR(std::exp(x)) KILN_ARRAY(a.exp())
};
// Eigen's packet log treats denormal inputs as the smallest normal number.
struct Log {
  template <class T>
  static bool needs_scalar(T x) {
    return x > T(0) && x < std::numeric_limits<T>::min();
  }
  template <class A>
  static bool any_needs_scalar(const A& a) {
    using T = typename A::Scalar;
    return (a > T(0)).select(a, std::numeric_limits<T>::infinity()).minCoeff() <
           std::numeric_limits<T>::min();
  }
  KILN_SCALAR(std::log(x)) KILN_ARRAY(a.log())
};
struct Log1p {
  KILN_SCALAR(std::log1p(x)) KILN_ARRAY(a.log1p())
};
// No array forms: Eigen's fast packet sqrt / rsqrt (an rsqrt estimate refined by Newton steps) give NaN
// for +inf, 0 for denormals and +0 for -0, and are not correctly rounded. The scalar loops vectorize to the
// exact IEEE square root (this file is compiled with -fno-math-errno, see CMakeLists.txt).
struct Sqrt {
  KILN_SCALAR(std::sqrt(x))
};
struct Rsqrt {
  KILN_SCALAR(T(1) / std::sqrt(x))
};
struct Square {
  KILN_SCALAR(static_cast<T>(x* x)) KILN_ARRAY(a.square())
};
struct Sin {
  KILN_SCALAR(std::sin(x)) KILN_ARRAY(a.sin())
};
struct Cos {
  KILN_SCALAR(std::cos(x)) KILN_ARRAY(a.cos())
};
struct Tanh {
  KILN_SCALAR(std::tanh(x)) KILN_ARRAY(a.tanh())
};
// Eigen's packet logistic clamps like its exp: inputs whose result underflows take the scalar form.
struct Sigmoid {
  template <class T>
  static bool needs_scalar(T x) {
    return x < log_min_normal<T>() + T(1);
  }
  template <class A>
  static bool any_needs_scalar(const A& a) {
    using T = typename A::Scalar;
    return a.minCoeff() < log_min_normal<T>() + T(1);
  }
  KILN_SCALAR(scalar::sigmoid(x)) KILN_ARRAY(a.logistic())
};
struct Relu {
  KILN_SCALAR(scalar::relu(x)) KILN_ARRAY(a.max(typename A::Scalar(0)))
};
struct Gelu {
  KILN_SCALAR(scalar::gelu(x))
};
struct Silu {
  KILN_SCALAR(scalar::silu(x)) KILN_ARRAY(a* a.logistic())
};
struct Softplus {
  KILN_SCALAR(scalar::softplus(x))
};
struct Erf {
  KILN_SCALAR(std::erf(x))
};
struct Reciprocal {
  KILN_SCALAR(T(1) / x) KILN_ARRAY(a.inverse())
};
struct LogicalNot {
  KILN_SCALAR(static_cast<T>(!x))
};
// clang-format on

template <class F, class T>
concept HasArray = requires(F f, ConstRow<T> a) {
  f.array(a);
};
// An op whose array form is exact only on part of the domain names the inputs it must recompute with the
// scalar form (IEEE special values, denormals, underflowing results), so that a result never depends on
// whether the element fell in a full vector block or in the scalar tail. any_needs_scalar answers for a
// whole row with a vectorized reduction (a minimum), so a row is scanned element by element only when it
// holds such an input.
template <class F, class T>
concept HasScalarFixups = requires(T x, ConstRow<T> a) {
  { F::needs_scalar(x) } -> std::convertible_to<bool>;
  { F::any_needs_scalar(a) } -> std::convertible_to<bool>;
};

template <class T, class F>
void run(const F& f, const Tensor& in, const Tensor& out) {
  for_each_row<2>(out.shape(), make_operands<2>({&out, &in}), [&](auto p, auto s, int64_t n) {
    T* o = reinterpret_cast<T*>(p[0]);
    const T* a = reinterpret_cast<const T*>(p[1]);
    if (s[0] == sizeof(T) && s[1] == sizeof(T)) {
      if constexpr (std::is_floating_point_v<T> && HasArray<F, T>) {
        Row<T>(o, n) = f.array(ConstRow<T>(a, n));
        if constexpr (HasScalarFixups<F, T>)
          if (F::any_needs_scalar(ConstRow<T>(a, n))) [[unlikely]]
            for (int64_t i = 0; i < n; ++i)
              if (F::needs_scalar(a[i])) o[i] = f(a[i]);
      } else {
        for (int64_t i = 0; i < n; ++i) o[i] = f(a[i]);
      }
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<T*>(p[0] + i * s[0]) = f(*reinterpret_cast<const T*>(p[1] + i * s[1]));
    }
  });
}

template <class T>
void leaky_relu(const Tensor& in, const Tensor& out, double slope) {
  const T sl = static_cast<T>(slope);
  run<T>([sl](T x) { return scalar::leaky_relu(x, sl); }, in, out);
}

template <class T>
void dispatch(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha) {
  using K = UnaryKernel;
  switch (k) {
    case K::neg:
      return run<T>(Neg{}, in, out);
    case K::abs:
      return run<T>(Abs{}, in, out);
    case K::sign:
      return run<T>(Sign{}, in, out);
    case K::square:
      return run<T>(Square{}, in, out);
    case K::relu:
      return run<T>(Relu{}, in, out);
    default:
      break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (k) {
      case K::exp:
        return run<T>(Exp{}, in, out);
      case K::log:
        return run<T>(Log{}, in, out);
      case K::log1p:
        return run<T>(Log1p{}, in, out);
      case K::sqrt:
        return run<T>(Sqrt{}, in, out);
      case K::rsqrt:
        return run<T>(Rsqrt{}, in, out);
      case K::sin:
        return run<T>(Sin{}, in, out);
      case K::cos:
        return run<T>(Cos{}, in, out);
      case K::tanh:
        return run<T>(Tanh{}, in, out);
      case K::sigmoid:
        return run<T>(Sigmoid{}, in, out);
      case K::gelu:
        return run<T>(Gelu{}, in, out);
      case K::silu:
        return run<T>(Silu{}, in, out);
      case K::softplus:
        return run<T>(Softplus{}, in, out);
      case K::erf:
        return run<T>(Erf{}, in, out);
      case K::reciprocal:
        return run<T>(Reciprocal{}, in, out);
      case K::leaky_relu:
        return leaky_relu<T>(in, out, alpha);
      default:
        break;
    }
  }
  if constexpr (std::is_same_v<T, bool>) {
    if (k == K::logical_not) return run<T>(LogicalNot{}, in, out);
  }
  KILN_ASSERT(false, "unary kernel ", kernel_name(k), " has no CPU implementation for ", dtype_of<T>);
}

}  // namespace

void native::unary(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha) {
  switch (out.dtype()) {
    case DType::f32:
      return dispatch<float>(k, in, out, alpha);
    case DType::f64:
      return dispatch<double>(k, in, out, alpha);
    case DType::i64:
      return dispatch<int64_t>(k, in, out, alpha);
    case DType::i32:
      return dispatch<int32_t>(k, in, out, alpha);
    case DType::boolean:
      return dispatch<bool>(k, in, out, alpha);
    default:
      KILN_ASSERT(false, "unary kernel ", kernel_name(k), " called for ", out.dtype());
  }
}

}  // namespace kiln::cpu
