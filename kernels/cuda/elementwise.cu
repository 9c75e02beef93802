// CUDA elementwise kernels: unary and binary (every code of KILN_UNARY_KERNELS / KILN_BINARY_KERNELS, with
// the CPU kernels' semantics: NaN propagates through maximum/minimum, signed INT_MIN / -1 wraps), where,
// fill, and the strided copy with dtype conversion. f16/bf16 compute in float and round once on store
// (half.cuh). Unary, binary, where and copy take a vectorized path (16-byte packs) when every operand is
// dense and aligned, and the strided grid-stride loop (strided.cuh) otherwise. One kernel per dtype (pair)
// with the op chosen by a switch inside: the branch is uniform across a launch, and it keeps nvcc's work on
// this file small.
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cuda/half.cuh"
#include "kiln/kernels/cuda/strided.cuh"
#include "kiln/kernels/shared/activation_math.h"

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
        return scalar::relu(x);
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
          return scalar::sigmoid(x);
        case K::leaky_relu:
          return scalar::leaky_relu(x, static_cast<T>(alpha));
        case K::gelu:
          return scalar::gelu(x);
        case K::silu:
          return scalar::silu(x);
        case K::softplus:
          return scalar::softplus(x);
        case K::erf:
          return erf(x);
        case K::reciprocal:
          return T(1) / x;
        default:
          break;
      }
    }
    return T(0);  // unreachable: supports_unary guards every call
  }
}

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
  return R(0);  // unreachable: supports_binary guards every call
}

template <class D, class S>
__host__ D host_value(S v) {
  if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else if constexpr (is_reduced_v<D>) {
    return D(static_cast<float>(v));  // kiln::Half / BFloat16 round to nearest even, as on the device
  } else {
    return static_cast<D>(v);
  }
}

// ---- per-element functions (a value in, a value out), shared by the strided and vectorized paths ----
// f16/bf16 compute in float (compute_t) and round once on store.
template <class T>
struct UnaryFn {
  UnaryKernel k;
  double alpha;
  __device__ T operator()(T x) const {
    return from_compute<T>(unary_apply<compute_t<T>>(k, to_compute(x), alpha));
  }
};

template <class T, class R>
struct BinaryFn {
  BinaryKernel k;
  __device__ R operator()(T x, T y) const {
    if constexpr (std::is_same_v<R, bool>) {
      return binary_apply<compute_t<T>, bool>(k, to_compute(x), to_compute(y));
    } else {
      return from_compute<T>(binary_apply<compute_t<T>, compute_t<T>>(k, to_compute(x), to_compute(y)));
    }
  }
};

template <class D, class S>
struct ConvertFn {
  __device__ D operator()(S v) const { return convert_value<D>(v); }
};

// ---- strided path: offsets from Strided<N> (strided.cuh) ----
template <class R, class T, class Fn>
struct Map1 {
  R* out;
  const T* in;
  Fn f;
  __device__ void operator()(const int64_t* off) const { out[off[0]] = f(in[off[1]]); }
};

template <class R, class T, class Fn>
struct Map2 {
  R* out;
  const T* a;
  const T* b;
  Fn f;
  __device__ void operator()(const int64_t* off) const { out[off[0]] = f(a[off[1]], b[off[2]]); }
};

template <class T>
struct WhereOp {
  T* out;
  const bool* cond;
  const T* a;
  const T* b;
  __device__ void operator()(const int64_t* off) const { out[off[0]] = cond[off[1]] ? a[off[2]] : b[off[3]]; }
};

template <class T>
struct FillOp {
  T* dst;
  T value;
  __device__ void operator()(const int64_t* off) const { dst[off[0]] = value; }
};

// ---- vectorized path: every operand dense from element 0 (or, for binary inputs, one broadcast scalar)
// and aligned to a whole pack, so each thread moves one 16-byte pack per operand (a float4, or 8 f16/bf16
// values) in a single load/store. The tail past the last whole pack runs element by element in the same
// launch. ----
template <class T, int V>
struct alignas(sizeof(T) * V) Pack {
  T v[V];
};

// Elements per pack: 16 bytes of the widest operand.
template <class R, class T>
inline constexpr int kPackOf = static_cast<int>(16 / (sizeof(T) > sizeof(R) ? sizeof(T) : sizeof(R)));

template <int V, class R, class T, class Fn>
__global__ void vec_map1_kernel(R* out, const T* in, int64_t n, Fn f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x, packs = n / V;
  for (int64_t p = first; p < packs; p += step) {
    const Pack<T, V> x = reinterpret_cast<const Pack<T, V>*>(in)[p];
    Pack<R, V> o;
#pragma unroll
    for (int j = 0; j < V; ++j) o.v[j] = f(x.v[j]);
    reinterpret_cast<Pack<R, V>*>(out)[p] = o;
  }
  for (int64_t i = packs * V + first; i < n; i += step) out[i] = f(in[i]);
}

// Pack p of `in`, or in[0] in every lane when `scalar` (one element broadcast over all n).
template <int V, class T>
__device__ Pack<T, V> load_pack(const T* in, bool scalar, int64_t p) {
  if (!scalar) return reinterpret_cast<const Pack<T, V>*>(in)[p];
  Pack<T, V> x;
  for (int j = 0; j < V; ++j) x.v[j] = in[0];
  return x;
}

// a_scalar / b_scalar: that input is one element broadcast over all n.
template <int V, class R, class T, class Fn>
__global__ void vec_map2_kernel(R* out, const T* a, bool a_scalar, const T* b, bool b_scalar, int64_t n,
                                Fn f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x, packs = n / V;
  for (int64_t p = first; p < packs; p += step) {
    const Pack<T, V> x = load_pack<V>(a, a_scalar, p), y = load_pack<V>(b, b_scalar, p);
    Pack<R, V> o;
#pragma unroll
    for (int j = 0; j < V; ++j) o.v[j] = f(x.v[j], y.v[j]);
    reinterpret_cast<Pack<R, V>*>(out)[p] = o;
  }
  for (int64_t i = packs * V + first; i < n; i += step) out[i] = f(a[a_scalar ? 0 : i], b[b_scalar ? 0 : i]);
}

// where: cond is bool (1 byte), so a pack holds 16 bytes of T and V bools. a or b may be a broadcast
// scalar (ReLU's backward is where(x > 0, g, 0)).
template <int V, class T>
__global__ void vec_where_kernel(T* out, const bool* cond, const T* a, bool a_scalar, const T* b,
                                 bool b_scalar, int64_t n) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  const int64_t first = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x, packs = n / V;
  for (int64_t p = first; p < packs; p += step) {
    const Pack<bool, V> c = reinterpret_cast<const Pack<bool, V>*>(cond)[p];
    const Pack<T, V> x = load_pack<V>(a, a_scalar, p), y = load_pack<V>(b, b_scalar, p);
    Pack<T, V> o;
#pragma unroll
    for (int j = 0; j < V; ++j) o.v[j] = c.v[j] ? x.v[j] : y.v[j];
    reinterpret_cast<Pack<T, V>*>(out)[p] = o;
  }
  for (int64_t i = packs * V + first; i < n; i += step)
    out[i] = cond[i] ? a[a_scalar ? 0 : i] : b[b_scalar ? 0 : i];
}

bool g_vectorize = true;

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

// Whether operand k of s is dense from its first element (stride 1 over the one merged dim, or a single
// element), or a broadcast scalar (stride 0 over it).
template <int N>
bool dense_operand(const Strided<N>& s, int k) {
  return s.nd == 0 || (s.nd == 1 && s.strides[k][0] == 1);
}
template <int N>
bool scalar_operand(const Strided<N>& s, int k) {
  return s.nd == 1 && s.strides[k][0] == 0;
}

template <class T>
void launch_where(int dev, const Strided<4>& s) {
  constexpr int V = static_cast<int>(16 / sizeof(T));
  T* out = reinterpret_cast<T*>(s.data[0]);
  const bool* cond = reinterpret_cast<const bool*>(s.data[1]);
  const T* a = reinterpret_cast<const T*>(s.data[2]);
  const T* b = reinterpret_cast<const T*>(s.data[3]);
  const bool a_scalar = scalar_operand(s, 2), b_scalar = scalar_operand(s, 3);
  const bool vec = g_vectorize && s.numel > 0 && dense_operand(s, 0) && aligned(out, sizeof(T) * V) &&
                   dense_operand(s, 1) && aligned(cond, V) &&
                   (a_scalar || (dense_operand(s, 2) && aligned(a, sizeof(T) * V))) &&
                   (b_scalar || (dense_operand(s, 3) && aligned(b, sizeof(T) * V)));
  if (vec) {
    DeviceGuard guard(dev);
    vec_where_kernel<V, T><<<grid_for((s.numel + V - 1) / V), kThreads, 0, stream(dev)>>>(
        out, cond, a, a_scalar, b, b_scalar, s.numel);
    KILN_CUDA_CHECK_LAUNCH("where");
    return;
  }
  launch_elementwise("where", dev, s, WhereOp<T>{out, cond, a, b});
}

template <class R, class T, class Fn>
void launch_map1(const char* op, int dev, const Strided<2>& s, Fn f) {
  constexpr int V = kPackOf<R, T>;
  R* out = reinterpret_cast<R*>(s.data[0]);
  const T* in = reinterpret_cast<const T*>(s.data[1]);
  if (g_vectorize && s.numel > 0 && dense_operand(s, 0) && dense_operand(s, 1) &&
      aligned(out, sizeof(R) * V) && aligned(in, sizeof(T) * V)) {
    DeviceGuard guard(dev);
    vec_map1_kernel<V, R, T, Fn>
        <<<grid_for((s.numel + V - 1) / V), kThreads, 0, stream(dev)>>>(out, in, s.numel, f);
    KILN_CUDA_CHECK_LAUNCH(op);
    return;
  }
  launch_elementwise(op, dev, s, Map1<R, T, Fn>{out, in, f});
}

template <class R, class T, class Fn>
void launch_map2(const char* op, int dev, const Strided<3>& s, Fn f) {
  constexpr int V = kPackOf<R, T>;
  R* out = reinterpret_cast<R*>(s.data[0]);
  const T* a = reinterpret_cast<const T*>(s.data[1]);
  const T* b = reinterpret_cast<const T*>(s.data[2]);
  const bool a_scalar = scalar_operand(s, 1), b_scalar = scalar_operand(s, 2);
  const bool vec = g_vectorize && s.numel > 0 && dense_operand(s, 0) && aligned(out, sizeof(R) * V) &&
                   (a_scalar || (dense_operand(s, 1) && aligned(a, sizeof(T) * V))) &&
                   (b_scalar || (dense_operand(s, 2) && aligned(b, sizeof(T) * V)));
  if (vec) {
    DeviceGuard guard(dev);
    vec_map2_kernel<V, R, T, Fn><<<grid_for((s.numel + V - 1) / V), kThreads, 0, stream(dev)>>>(
        out, a, a_scalar, b, b_scalar, s.numel, f);
    KILN_CUDA_CHECK_LAUNCH(op);
    return;
  }
  launch_elementwise(op, dev, s, Map2<R, T, Fn>{out, a, b, f});
}

}  // namespace

void set_vectorized_elementwise(bool on) { g_vectorize = on; }
bool vectorized_elementwise() { return g_vectorize; }

void unary(UnaryKernel k, const Tensor& in, const Tensor& out, double alpha) {
  const int dev = device_of(out, kernel_name(k));
  auto s = make_strided<2>(out.shape(), {&out, &in}, kernel_name(k));
  KILN_DISPATCH_WITH_HALF(out.dtype(), kernel_name(k), [&] {
    using T = scalar_t;
    launch_map1<T, T>(kernel_name(k), dev, s, UnaryFn<T>{k, alpha});
  });
}

void binary(BinaryKernel k, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int dev = device_of(out, kernel_name(k));
  auto s = make_strided<3>(out.shape(), {&out, &a, &b}, kernel_name(k));
  KILN_DISPATCH_WITH_HALF(a.dtype(), kernel_name(k), [&] {
    using T = scalar_t;
    if (writes_bool(k))
      launch_map2<bool, T>(kernel_name(k), dev, s, BinaryFn<T, bool>{k});
    else
      launch_map2<T, T>(kernel_name(k), dev, s, BinaryFn<T, T>{k});
  });
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const int dev = device_of(out, "where");
  auto s = make_strided<4>(out.shape(), {&out, &cond, &a, &b}, "where");
  KILN_DISPATCH_WITH_HALF(out.dtype(), "where", [&] { launch_where<scalar_t>(dev, s); });
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
  KILN_DISPATCH_WITH_HALF(dst.dtype(), "copy", [&] {
    using D = scalar_t;
    KILN_DISPATCH_WITH_HALF(src.dtype(), "copy", [&] {
      using S = scalar_t;
      launch_map1<D, S>("copy", dev, s, ConvertFn<D, S>{});
    });
  });
}

void fill(const Tensor& dst, double value) {
  const int dev = device_of(dst, "fill");
  auto s = make_strided<1>(dst.shape(), {&dst}, "fill");
  KILN_DISPATCH_WITH_HALF(dst.dtype(), "fill", [&] {
    using T = scalar_t;
    launch_elementwise("fill", dev, s, FillOp<T>{mptr<T>(dst), host_value<T>(value)});
  });
}

}  // namespace kiln::cuda
