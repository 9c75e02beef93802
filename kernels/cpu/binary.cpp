// CPU elementwise binary kernels and `where`, over broadcast (stride-0) views. Rows where every operand
// is contiguous or a broadcast scalar get plain indexed loops, which the compiler vectorizes.
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/kernels/cpu/loops.h"

namespace kiln::cpu {
namespace {

template <class T, class R, class F>
void run(const F& f, const Tensor& a, const Tensor& b, const Tensor& out) {
  for_each_row<3>(out.shape(), make_operands<3>({&out, &a, &b}), [&](auto p, auto s, int64_t n) {
    R* __restrict o = reinterpret_cast<R*>(p[0]);
    const T* x = reinterpret_cast<const T*>(p[1]);
    const T* y = reinterpret_cast<const T*>(p[2]);
    constexpr int64_t e = sizeof(T);
    if (s[0] == sizeof(R) && s[1] == e && s[2] == e) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (s[0] == sizeof(R) && s[1] == e && s[2] == 0) {
      const T yv = *y;
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else if (s[0] == sizeof(R) && s[1] == 0 && s[2] == e) {
      const T xv = *x;
      for (int64_t i = 0; i < n; ++i) o[i] = f(xv, y[i]);
    } else {
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<R*>(p[0] + i * s[0]) =
            f(*reinterpret_cast<const T*>(p[1] + i * s[1]), *reinterpret_cast<const T*>(p[2] + i * s[2]));
    }
  });
}

// Signed INT_MIN / -1 overflows (x86 traps with SIGFPE): it wraps to INT_MIN, as two's complement negation.
// Zero divisors never get here (the op rejects them).
template <class T>
T div_wrapping(T x, T y) {
  if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
    if (y == T(-1)) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x));
  }
  return static_cast<T>(x / y);
}

// NaN propagates through maximum/minimum, as in PyTorch.
template <class T>
T max_nan(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(x) || std::isnan(y)) return x + y;
  }
  return x > y ? x : y;
}
template <class T>
T min_nan(T x, T y) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(x) || std::isnan(y)) return x + y;
  }
  return x < y ? x : y;
}

template <class T>
void dispatch(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out) {
  using B = bool;
  switch (k) {
    case BinaryKernel::add:
      return run<T, T>([](T x, T y) { return static_cast<T>(x + y); }, a, b, out);
    case BinaryKernel::sub:
      return run<T, T>([](T x, T y) { return static_cast<T>(x - y); }, a, b, out);
    case BinaryKernel::mul:
      return run<T, T>([](T x, T y) { return static_cast<T>(x * y); }, a, b, out);
    // Integer division by zero is rejected by the op before it gets here.
    case BinaryKernel::div:
      return run<T, T>([](T x, T y) { return div_wrapping(x, y); }, a, b, out);
    case BinaryKernel::pow:
      if constexpr (std::is_floating_point_v<T>)
        return run<T, T>([](T x, T y) { return std::pow(x, y); }, a, b, out);
      break;
    case BinaryKernel::maximum:
      return run<T, T>(max_nan<T>, a, b, out);
    case BinaryKernel::minimum:
      return run<T, T>(min_nan<T>, a, b, out);
    case BinaryKernel::eq:
      return run<T, B>([](T x, T y) { return x == y; }, a, b, out);
    case BinaryKernel::ne:
      return run<T, B>([](T x, T y) { return x != y; }, a, b, out);
    case BinaryKernel::lt:
      return run<T, B>([](T x, T y) { return x < y; }, a, b, out);
    case BinaryKernel::le:
      return run<T, B>([](T x, T y) { return x <= y; }, a, b, out);
    case BinaryKernel::gt:
      return run<T, B>([](T x, T y) { return x > y; }, a, b, out);
    case BinaryKernel::ge:
      return run<T, B>([](T x, T y) { return x >= y; }, a, b, out);
    case BinaryKernel::logical_and:
      return run<T, B>([](T x, T y) { return x && y; }, a, b, out);
    case BinaryKernel::logical_or:
      return run<T, B>([](T x, T y) { return x || y; }, a, b, out);
  }
  KILN_ASSERT(false, "binary kernel ", kernel_name(k), " has no CPU implementation for ", dtype_of<T>);
}

}  // namespace

void native::binary(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out) {
  KILN_DISPATCH_ALL(a.dtype(), kernel_name(k), [&] { dispatch<scalar_t>(k, a, b, out); });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  KILN_DISPATCH_WITH_HALF(out.dtype(), "where", [&] {
    using T = scalar_t;
    for_each_row<4>(out.shape(), make_operands<4>({&out, &cond, &a, &b}), [&](auto p, auto s, int64_t n) {
      // Contiguous rows with a contiguous or broadcast (stride 0) b: ReLU's backward, where(x > 0, g, 0),
      // on every training step. Plain indexing lets the compiler vectorize the select.
      if (s[0] == sizeof(T) && s[1] == sizeof(bool) && s[2] == sizeof(T) &&
          (s[3] == sizeof(T) || s[3] == 0)) {
        T* __restrict o = reinterpret_cast<T*>(p[0]);
        const uint8_t* __restrict c = reinterpret_cast<const uint8_t*>(p[1]);
        const T* __restrict x = reinterpret_cast<const T*>(p[2]);
        const T* __restrict y = reinterpret_cast<const T*>(p[3]);
        // Both sides are read unconditionally, so the select compiles to a masked blend.
        if (s[3] == 0) {
          const T y0 = *y;
          for (int64_t i = 0; i < n; ++i) {
            const T xv = x[i];
            o[i] = c[i] != 0 ? xv : y0;
          }
        } else {
          for (int64_t i = 0; i < n; ++i) {
            const T xv = x[i], yv = y[i];
            o[i] = c[i] != 0 ? xv : yv;
          }
        }
        return;
      }
      for (int64_t i = 0; i < n; ++i)
        *reinterpret_cast<T*>(p[0] + i * s[0]) = *reinterpret_cast<const bool*>(p[1] + i * s[1])
                                                     ? *reinterpret_cast<const T*>(p[2] + i * s[2])
                                                     : *reinterpret_cast<const T*>(p[3] + i * s[3]);
    });
  });
}

}  // namespace kiln::cpu
