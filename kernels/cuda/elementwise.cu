// CUDA elementwise kernels: unary and binary (every code of KILN_UNARY_KERNELS / KILN_BINARY_KERNELS, with
// the CPU kernels' semantics: NaN propagates through maximum/minimum, signed INT_MIN / -1 wraps), where,
// fill, and the strided copy with dtype conversion. One kernel per dtype (pair) with the op chosen by a
// switch inside: the branch is uniform across a launch, and it keeps nvcc's work on this file small.
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cuda/strided.cuh"

namespace kiln::cuda {
namespace {

template <class T>
__device__ T unary_apply(UnaryKernel k, T x, double alpha) {
  using K = UnaryKernel;
  if constexpr (std::is_same_v<T, bool> || std::is_unsigned_v<T>) {
    return !x;  // logical_not is the one unary kernel for bool, and u8 has none (unary_supports)
  } else {
    switch (k) {
      case K::neg:
        return static_cast<T>(-x);
      case K::abs:
        return x < T(0) ? static_cast<T>(-x) : x;
      case K::sign:
        return static_cast<T>((T(0) < x) - (x < T(0)));
      case K::square:
        return static_cast<T>(x * x);
      case K::relu:
        return x > T(0) ? x : T(0);
      case K::logical_not:
        return static_cast<T>(!x);
      default:
        break;
    }
    if constexpr (std::is_floating_point_v<T>) {
      switch (k) {
        case K::exp:
          return exp(x);
        case K::log:
          return log(x);
        case K::log1p:
          return log1p(x);
        case K::sqrt:
          return sqrt(x);
        case K::rsqrt:
          return T(1) / sqrt(x);
        case K::sin:
          return sin(x);
        case K::cos:
          return cos(x);
        case K::tanh:
          return tanh(x);
        case K::sigmoid:
          return T(1) / (T(1) + exp(-x));
        case K::leaky_relu:
          return x > T(0) ? x : x * static_cast<T>(alpha);
        case K::gelu:
          return T(0.5) * x * (T(1) + erf(x * T(M_SQRT1_2)));
        case K::silu:
          return x / (T(1) + exp(-x));
        case K::softplus:  // max(x, 0) + log1p(e^-|x|): no overflow at any x
          return (x > T(0) ? x : T(0)) + log1p(exp(-fabs(x)));
        case K::erf:
          return erf(x);
        case K::reciprocal:
          return T(1) / x;
        default:
          break;
      }
    }
    return T(0);  // unreachable: unary_supports guards every call
  }
}

template <class T>
struct UnaryOp {
  UnaryKernel k;
  double alpha;
  T* out;
  const T* in;
  __device__ void operator()(const int64_t* off) const { out[off[0]] = unary_apply(k, in[off[1]], alpha); }
};

template <class T>
__device__ bool is_nan(T x) {
  if constexpr (std::is_floating_point_v<T>) {
    return isnan(x);
  } else {
    return false;
  }
}

template <class T, class R>
__device__ R binary_apply(BinaryKernel k, T x, T y) {
  using K = BinaryKernel;
  if constexpr (std::is_same_v<R, bool>) {
    switch (k) {
      case K::eq:
        return x == y;
      case K::ne:
        return x != y;
      case K::lt:
        return x < y;
      case K::le:
        return x <= y;
      case K::gt:
        return x > y;
      case K::ge:
        return x >= y;
      case K::logical_and:
        return x && y;
      case K::logical_or:
        return x || y;
      default:
        break;
    }
  }
  if constexpr (std::is_same_v<R, T>) {
    switch (k) {
      case K::add:
        return static_cast<T>(x + y);
      case K::sub:
        return static_cast<T>(x - y);
      case K::mul:
        return static_cast<T>(x * y);
      case K::div:
        if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
          if (y == T(-1)) return static_cast<T>(-static_cast<std::make_unsigned_t<T>>(x));
        }
        return static_cast<T>(x / y);
      case K::pow:
        if constexpr (std::is_floating_point_v<T>) return pow(x, y);
        break;
      case K::maximum:
        if (is_nan(x) || is_nan(y)) return static_cast<T>(x + y);
        return x > y ? x : y;
      case K::minimum:
        if (is_nan(x) || is_nan(y)) return static_cast<T>(x + y);
        return x < y ? x : y;
      default:
        break;
    }
  }
  return R(0);  // unreachable: binary_supports guards every call
}

template <class T, class R>
struct BinaryOp {
  BinaryKernel k;
  R* out;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t* off) const {
    out[off[0]] = binary_apply<T, R>(k, a[off[1]], b[off[2]]);
  }
};

template <class T>
struct WhereOp {
  T* out;
  const bool* cond;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t* off) const { out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]]; }
};

template <class D, class S>
__host__ __device__ D convert(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else {
    return static_cast<D>(v);
  }
}

template <class D, class S>
struct CopyOp {
  D* dst;
  const S* src;
  __device__ void operator()(const int64_t* off) const { dst[off[0]] = convert<D>(src[off[1]]); }
};

template <class T>
struct FillOp {
  T* dst;
  T value;
  __device__ void operator()(const int64_t* off) const { dst[off[0]] = value; }
};

template <class T>
const T* cptr(const Tensor& t) {
  return static_cast<const T*>(t.data_ptr());
}
template <class T>
T* mptr(const Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

}  // namespace

bool unary_supports(UnaryKernel k, DType t) {
  switch (k) {
    case UnaryKernel::neg:
    case UnaryKernel::abs:
    case UnaryKernel::sign:
    case UnaryKernel::square:
    case UnaryKernel::relu:
      return t == DType::f32 || t == DType::f64 || t == DType::i64 || t == DType::i32;
    case UnaryKernel::logical_not:
      return t == DType::boolean;
    default:
      return t == DType::f32 || t == DType::f64;
  }
}

bool binary_supports(BinaryKernel k, DType t) {
  bool numeric = t == DType::f32 || t == DType::f64 || t == DType::i64 || t == DType::i32 || t == DType::u8;
  if (k == BinaryKernel::pow) return t == DType::f32 || t == DType::f64;
  if (k == BinaryKernel::logical_and || k == BinaryKernel::logical_or) return t == DType::boolean;
  if (writes_bool(k)) return numeric || t == DType::boolean;
  return numeric;
}

void unary(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha) {
  const int dev = device_of(out, kernel_name(k));
  auto s = make_strided<2>(out.shape(), {&out, &in}, kernel_name(k));
  KILN_DISPATCH_ALL(out.dtype(), kernel_name(k), [&] {
    using T = scalar_t;
    launch_elementwise(kernel_name(k), dev, s, UnaryOp<T>{k, alpha, mptr<T>(out), cptr<T>(in)});
  });
}

void binary(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int dev = device_of(out, kernel_name(k));
  auto s = make_strided<3>(out.shape(), {&out, &a, &b}, kernel_name(k));
  KILN_DISPATCH_ALL(a.dtype(), kernel_name(k), [&] {
    using T = scalar_t;
    if (writes_bool(k))
      launch_elementwise(kernel_name(k), dev, s,
                         BinaryOp<T, bool>{k, mptr<bool>(out), cptr<T>(a), cptr<T>(b)});
    else
      launch_elementwise(kernel_name(k), dev, s, BinaryOp<T, T>{k, mptr<T>(out), cptr<T>(a), cptr<T>(b)});
  });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int dev = device_of(out, "where");
  auto s = make_strided<4>(out.shape(), {&out, &cond, &a, &b}, "where");
  KILN_DISPATCH_ALL(out.dtype(), "where", [&] {
    using T = scalar_t;
    launch_elementwise("where", dev, s, WhereOp<T>{mptr<T>(out), cptr<bool>(cond), cptr<T>(a), cptr<T>(b)});
  });
}

void copy_on_device(const Tensor& src, const Tensor& dst) {
  const int dev = device_of(dst, "copy");
  KILN_CHECK(src.device() == dst.device(), "copy on CUDA: source on ", src.device(), ", destination on ",
             dst.device());
  if (dst.numel() == 0) return;
  if (src.dtype() == dst.dtype() && src.is_contiguous() && dst.is_contiguous()) {
    DeviceGuard guard(dev);
    KILN_CUDA_CHECK(cudaMemcpyAsync(dst.data_ptr(), src.data_ptr(), dst.numel() * dtype_size(dst.dtype()),
                                    cudaMemcpyDeviceToDevice, stream(dev)),
                    "copy (device to device)");
    return;
  }
  auto s = make_strided<2>(dst.shape(), {&dst, &src}, "copy");
  KILN_DISPATCH_ALL(dst.dtype(), "copy", [&] {
    using D = scalar_t;
    KILN_DISPATCH_ALL(src.dtype(), "copy", [&] {
      using S = scalar_t;
      launch_elementwise("copy", dev, s, CopyOp<D, S>{mptr<D>(dst), cptr<S>(src)});
    });
  });
}

void fill(const Tensor& dst, double value) {
  const int dev = device_of(dst, "fill");
  auto s = make_strided<1>(dst.shape(), {&dst}, "fill");
  KILN_DISPATCH_ALL(dst.dtype(), "fill", [&] {
    using T = scalar_t;
    launch_elementwise("fill", dev, s, FillOp<T>{mptr<T>(dst), convert<T>(value)});
  });
}

}  // namespace kiln::cuda
