// CUDA fused kernels (FusedKernel in tensor/backend.h), with the CPU kernels' contracts
// (kernels/cpu/fused.cpp): row-wise softmax / log_softmax and softmax + cross-entropy (forward and backward)
// run one warp per row (row = one (o, i) of the (O, R, I) view, elements R apart by I), reducing with warp
// shuffles; bias + activation (forward and backward) is a grid-stride elementwise loop. Rows are visited by a
// grid-stride loop over warps, so a warp's 32 lanes always work on the same row and every shuffle has all
// lanes. Kernels are templates on the element type T and compute in A = compute_t<T> (float for 16-bit
// types). Depends on strided.cuh (kThreads, grid_for, the check macros, stream()).
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cuda/strided.cuh"
#include "kiln/kernels/shared/activation_math.h"
#include "kiln/kernels/shared/compute_type.h"

namespace kiln::cuda {
namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = kThreads / kWarp;
// Full warps only: every shuffle uses the full mask, so no block may end in a partial warp.
static_assert(kThreads % kWarp == 0, "the row kernels need whole warps");

int64_t row_blocks(int64_t rows) {
  return std::clamp<int64_t>((rows + kRowsPerBlock - 1) / kRowsPerBlock, 1, 1 << 20);
}

template <class A>
__device__ A warp_sum(A v) {
  for (int off = kWarp / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}
template <class A>
__device__ A warp_max(A v) {
  for (int off = kWarp / 2; off > 0; off /= 2) {
    const A o = __shfl_xor_sync(0xffffffffu, v, off);
    v = o > v ? o : v;
  }
  return v;
}

// The first row of this warp, and the step between the rows it takes.
__device__ int64_t first_row() {
  return static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / kWarp;
}
__device__ int64_t row_step() { return static_cast<int64_t>(gridDim.x) * kRowsPerBlock; }

// Offset of element 0 of row j of an (O, R, I) view (elements follow at stride I).
__device__ int64_t row_base(int64_t j, int64_t R, int64_t I) { return (j / I) * R * I + j % I; }

// max over the row, then log(sum exp(x - max)); returns {max, log of the sum}. Callers use (x - max) +
// log_s rather than x - (max + log_s): x - max is exact, max + log_s would round at large logits.
template <class T, class A>
__device__ void row_lse(const T* x, int64_t R, int64_t I, int lane, A& m, A& log_s) {
  m = -INFINITY;
  for (int64_t c = lane; c < R; c += kWarp) {
    const A v = static_cast<A>(x[c * I]);
    m = v > m ? v : m;
  }
  m = warp_max(m);
  A s = 0;
  for (int64_t c = lane; c < R; c += kWarp) s += exp(static_cast<A>(x[c * I]) - m);
  log_s = log(warp_sum(s));
}

// ---- softmax ----
template <class T>
__global__ void softmax_kernel(const T* x, T* y, int64_t rows, int64_t R, int64_t I, bool log_out) {
  using A = compute_t<T>;
  const int lane = threadIdx.x % kWarp;
  for (int64_t j = first_row(); j < rows; j += row_step()) {
    const int64_t base = row_base(j, R, I);
    A m, log_s;
    row_lse(x + base, R, I, lane, m, log_s);
    for (int64_t c = lane; c < R; c += kWarp) {
      const A v = static_cast<A>(x[base + c * I]) - m;
      y[base + c * I] = static_cast<T>(log_out ? v - log_s : exp(v - log_s));
    }
  }
}

// ---- softmax + cross-entropy ----
struct CeParams {
  int64_t ignore_index;
  double eps;
};

template <class T>
__global__ void cross_entropy_kernel(const T* x, const int64_t* target, const T* w, CeParams p, T* loss,
                                     double* lse, int64_t rows, int64_t K, int64_t I) {
  using A = compute_t<T>;
  const int lane = threadIdx.x % kWarp;
  for (int64_t j = first_row(); j < rows; j += row_step()) {
    const T* row = x + row_base(j, K, I);
    A m, log_s;
    row_lse(row, K, I, lane, m, log_s);
    const int64_t t = target[j];
    A l = 0;
    // A target outside [0, K) is reported by the queued check at the next synchronization; until then it
    // counts as ignored, so row[t * I] and w[t] are never read out of bounds. Uniform across the warp.
    if (t != p.ignore_index && t >= 0 && t < K) {
      if (p.eps > 0.0) {
        A smooth = 0;
        for (int64_t c = lane; c < K; c += kWarp)
          smooth += (w ? static_cast<A>(w[c]) : A(1)) * ((m - static_cast<A>(row[c * I])) + log_s);
        l = warp_sum(smooth) * static_cast<A>(p.eps / static_cast<double>(K));
      }
      l += static_cast<A>(1.0 - p.eps) * (w ? static_cast<A>(w[t]) : A(1)) *
           ((m - static_cast<A>(row[t * I])) + log_s);
    }
    if (lane == 0) {
      lse[j] = static_cast<double>(m) + static_cast<double>(log_s);
      loss[j] = static_cast<T>(l);
    }
  }
}

template <class T>
__global__ void cross_entropy_backward_kernel(const T* x, const int64_t* target, const T* w, CeParams p,
                                              const double* lse, const T* g, T* gx, int64_t rows, int64_t K,
                                              int64_t I) {
  using A = compute_t<T>;
  const int lane = threadIdx.x % kWarp;
  const A uniform = static_cast<A>(p.eps / static_cast<double>(K));
  for (int64_t j = first_row(); j < rows; j += row_step()) {
    const int64_t base = row_base(j, K, I);
    const int64_t t = target[j];
    if (t == p.ignore_index || t < 0 || t >= K) {  // out of range: reported by the check, read as ignored
      for (int64_t c = lane; c < K; c += kWarp) gx[base + c * I] = T(0);
      continue;
    }
    // sum_k T_k = (1 - eps) w[t] + eps / K sum_k w_k
    A wsum = static_cast<A>(K);
    if (w && p.eps > 0.0) {
      A part = 0;
      for (int64_t c = lane; c < K; c += kWarp) part += static_cast<A>(w[c]);
      wsum = warp_sum(part);
    }
    const A gj = static_cast<A>(g[j]);
    const double z = lse[j];
    const A target_w = static_cast<A>(1.0 - p.eps) * (w ? static_cast<A>(w[t]) : A(1));
    const A total = target_w + uniform * wsum;
    for (int64_t c = lane; c < K; c += kWarp) {
      A tc = uniform * (w ? static_cast<A>(w[c]) : A(1));
      if (c == t) tc += target_w;
      gx[base + c * I] =
          static_cast<T>(gj * (exp(static_cast<A>(static_cast<double>(x[base + c * I]) - z)) * total - tc));
    }
  }
}

// ---- bias + activation (the formulas: kernels/shared/activation_math.h) ----
template <class T>
__global__ void bias_act_kernel(Activation act, double alpha, const T* x, const T* b, T* y, int64_t n,
                                int64_t D) {
  using A = compute_t<T>;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step)
    y[e] = static_cast<T>(
        scalar::activate<A>(act, static_cast<A>(x[e]) + static_cast<A>(b[e % D]), static_cast<A>(alpha)));
}

// x and b are null when the derivative reads y, and y is null otherwise.
template <class T>
__global__ void bias_act_backward_kernel(Activation act, double alpha, const T* g, const T* x, const T* b,
                                         const T* y, T* gz, int64_t n, int64_t D) {
  using A = compute_t<T>;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n; e += step) {
    const A z = x ? static_cast<A>(x[e]) + static_cast<A>(b[e % D]) : A(0);
    const A out = y ? static_cast<A>(y[e]) : A(0);
    gz[e] =
        static_cast<T>(scalar::activation_grad<A>(act, static_cast<A>(g[e]), z, out, static_cast<A>(alpha)));
  }
}

template <class T>
const T* data_or_null(const Tensor& t) {
  return t.defined() ? static_cast<const T*>(t.data_ptr()) : nullptr;
}

}  // namespace

void softmax(const Tensor& in, const Tensor& out, bool log) {
  KILN_ASSERT(in.dim() == 3 && in.is_contiguous() && out.is_contiguous(),
              "softmax kernel: contiguous (O, R, I)");
  const int dev = device_of(in, "softmax");
  const int64_t rows = in.size(0) * in.size(2);
  if (in.numel() == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT(in.dtype(), "softmax", [&] {
    using T = scalar_t;
    softmax_kernel<T><<<row_blocks(rows), kThreads, 0, stream(dev)>>>(static_cast<const T*>(in.data_ptr()),
                                                                      static_cast<T*>(out.data_ptr()), rows,
                                                                      in.size(1), in.size(2), log);
  });
  KILN_CUDA_CHECK_LAUNCH("softmax");
}

void cross_entropy(const Tensor& logits, const Tensor& target, const Tensor& weight, int64_t ignore_index,
                   double label_smoothing, const Tensor& loss, const Tensor& lse) {
  KILN_ASSERT(logits.dim() == 3 && logits.is_contiguous() && target.is_contiguous(),
              "cross_entropy kernel: contiguous (O, K, I) logits and (O, I) target");
  const int dev = device_of(logits, "cross_entropy");
  const int64_t rows = logits.size(0) * logits.size(2);
  if (rows == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT(logits.dtype(), "cross_entropy", [&] {
    using T = scalar_t;
    cross_entropy_kernel<T><<<row_blocks(rows), kThreads, 0, stream(dev)>>>(
        static_cast<const T*>(logits.data_ptr()), static_cast<const int64_t*>(target.data_ptr()),
        data_or_null<T>(weight), CeParams{ignore_index, label_smoothing}, static_cast<T*>(loss.data_ptr()),
        static_cast<double*>(lse.data_ptr()), rows, logits.size(1), logits.size(2));
  });
  KILN_CUDA_CHECK_LAUNCH("cross_entropy");
}

void cross_entropy_backward(const Tensor& logits, const Tensor& target, const Tensor& weight,
                            int64_t ignore_index, double label_smoothing, const Tensor& lse,
                            const Tensor& grad_loss, const Tensor& grad_logits) {
  KILN_ASSERT(logits.dim() == 3 && logits.is_contiguous() && grad_loss.is_contiguous(),
              "cross_entropy_backward kernel: contiguous operands");
  const int dev = device_of(logits, "cross_entropy_backward");
  const int64_t rows = logits.size(0) * logits.size(2);
  if (grad_logits.numel() == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT(logits.dtype(), "cross_entropy_backward", [&] {
    using T = scalar_t;
    cross_entropy_backward_kernel<T><<<row_blocks(rows), kThreads, 0, stream(dev)>>>(
        static_cast<const T*>(logits.data_ptr()), static_cast<const int64_t*>(target.data_ptr()),
        data_or_null<T>(weight), CeParams{ignore_index, label_smoothing},
        static_cast<const double*>(lse.data_ptr()), static_cast<const T*>(grad_loss.data_ptr()),
        static_cast<T*>(grad_logits.data_ptr()), rows, logits.size(1), logits.size(2));
  });
  KILN_CUDA_CHECK_LAUNCH("cross_entropy_backward");
}

void bias_act(Activation act, double alpha, const Tensor& x, const Tensor& bias, const Tensor& out) {
  KILN_ASSERT(x.dim() == 2 && x.is_contiguous() && bias.is_contiguous(),
              "bias_act kernel: contiguous (N, D)");
  const int dev = device_of(x, "bias_act");
  const int64_t n = x.numel();
  if (n == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT(x.dtype(), "bias_act", [&] {
    using T = scalar_t;
    bias_act_kernel<T><<<grid_for(n), kThreads, 0, stream(dev)>>>(
        act, alpha, static_cast<const T*>(x.data_ptr()), static_cast<const T*>(bias.data_ptr()),
        static_cast<T*>(out.data_ptr()), n, x.size(1));
  });
  KILN_CUDA_CHECK_LAUNCH("bias_act");
}

void bias_act_backward(Activation act, double alpha, const Tensor& grad_out, const Tensor& x,
                       const Tensor& bias, const Tensor& out, const Tensor& grad_z) {
  KILN_ASSERT(grad_out.dim() == 2 && grad_out.is_contiguous(), "bias_act_backward kernel: contiguous (N, D)");
  const int dev = device_of(grad_out, "bias_act_backward");
  const int64_t n = grad_out.numel();
  if (n == 0) return;
  const bool from_input = reads_input(act);
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT(grad_out.dtype(), "bias_act_backward", [&] {
    using T = scalar_t;
    bias_act_backward_kernel<T><<<grid_for(n), kThreads, 0, stream(dev)>>>(
        act, alpha, static_cast<const T*>(grad_out.data_ptr()), from_input ? data_or_null<T>(x) : nullptr,
        from_input ? data_or_null<T>(bias) : nullptr, from_input ? nullptr : data_or_null<T>(out),
        static_cast<T*>(grad_z.data_ptr()), n, grad_out.size(1));
  });
  KILN_CUDA_CHECK_LAUNCH("bias_act_backward");
}

}  // namespace kiln::cuda
