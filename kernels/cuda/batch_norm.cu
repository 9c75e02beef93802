// CUDA batch normalization (BatchNormKernel in tensor/backend.h), two launches each way:
//   forward:  a statistics kernel, one block per channel (training: the mean, then the centered sum of
//             squares, each a fixed tree reduction in shared memory; evaluation: the running statistics),
//             which writes save_mean / save_invstd and updates the running statistics; then one
//             grid-stride elementwise pass for out.
//   backward: a sums kernel, one block per channel (sum g and sum g (x - mean)), which writes grad_weight /
//             grad_bias and the two sums; then one grid-stride elementwise pass for grad_x.
// Every reduction has a fixed order for a given shape, so results repeat run to run. Kernels are templates
// on the element type T and its compute type A (compute_t: T for f32 and f64, float for f16/bf16 when
// the dispatch grows them). Depends on strided.cuh (kThreads, grid_for, check macros).
#include "kiln/kernels/cuda/strided.cuh"
#include "kiln/kernels/shared/compute_type.h"

namespace kiln::cuda {
namespace {

// The tree below halves a power-of-two width and every launch uses blockDim.x == kThreads.
static_assert((kThreads & (kThreads - 1)) == 0, "block_sum needs a power-of-two block");

// The sum over the block of each thread's v[k], returned to every thread. buf is kThreads x K shared
// memory; blockDim.x must be kThreads, and every thread of the block must call it.
template <class A, int K>
__device__ void block_sum(A (*buf)[kThreads], A (&v)[K]) {
  const int tid = threadIdx.x;
  __syncthreads();  // an earlier call's readers are done with buf
  for (int k = 0; k < K; ++k) buf[k][tid] = v[k];
  __syncthreads();
  for (int width = kThreads / 2; width > 0; width /= 2) {
    if (tid < width)
      for (int k = 0; k < K; ++k) buf[k][tid] += buf[k][tid + width];
    __syncthreads();
  }
  for (int k = 0; k < K; ++k) v[k] = buf[k][0];
}

// The (N, C, S) geometry: element m in [0, N S) of channel c sits at offset (n C + c) S + s.
struct Geometry {
  int64_t n, c, s;
  __device__ int64_t offset(int64_t channel, int64_t m) const {
    const int64_t i = m / s;
    return (i * c + channel) * s + (m - i * s);
  }
};

template <class T, class A>
__global__ void stats_kernel(Geometry g, const T* x, bool training, double momentum, double eps,
                             T* running_mean, T* running_var, T* save_mean, T* save_invstd) {
  __shared__ A buf[1][kThreads];
  const int64_t count = g.n * g.s;
  for (int64_t c = blockIdx.x; c < g.c; c += gridDim.x) {  // uniform across the block
    if (!training) {
      if (threadIdx.x == 0) {
        save_mean[c] = running_mean[c];
        save_invstd[c] = static_cast<T>(A(1) / sqrt(static_cast<A>(running_var[c]) + static_cast<A>(eps)));
      }
      continue;
    }
    A sum[1] = {A(0)};
    for (int64_t m = threadIdx.x; m < count; m += blockDim.x) sum[0] += static_cast<A>(x[g.offset(c, m)]);
    block_sum(buf, sum);
    const A mean = sum[0] / static_cast<A>(count);
    A sq[1] = {A(0)};
    for (int64_t m = threadIdx.x; m < count; m += blockDim.x) {
      const A d = static_cast<A>(x[g.offset(c, m)]) - mean;
      sq[0] += d * d;
    }
    block_sum(buf, sq);
    if (threadIdx.x == 0) {
      save_mean[c] = static_cast<T>(mean);
      save_invstd[c] = static_cast<T>(A(1) / sqrt(sq[0] / static_cast<A>(count) + static_cast<A>(eps)));
      if (running_mean)
        running_mean[c] =
            static_cast<T>((1.0 - momentum) * static_cast<double>(running_mean[c]) + momentum * double(mean));
      if (running_var)
        running_var[c] = static_cast<T>((1.0 - momentum) * static_cast<double>(running_var[c]) +
                                        momentum * double(sq[0]) / double(count - 1));
    }
  }
}

template <class T, class A>
__global__ void normalize_kernel(int64_t numel, int64_t channels, int64_t s, const T* x, const T* mean,
                                 const T* invstd, const T* weight, const T* bias, T* out) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < numel; i += step) {
    const int64_t c = (i / s) % channels;
    A y = (static_cast<A>(x[i]) - static_cast<A>(mean[c])) * static_cast<A>(invstd[c]);
    if (weight) y *= static_cast<A>(weight[c]);
    if (bias) y += static_cast<A>(bias[c]);
    out[i] = static_cast<T>(y);
  }
}

// sums[2c] = sum(g), sums[2c + 1] = sum(g (x - mean)) over channel c; grad_bias / grad_weight when wanted.
template <class T, class A>
__global__ void backward_sums_kernel(Geometry g, const T* grad_out, const T* x, const T* mean,
                                     const T* invstd, A* sums, T* grad_weight, T* grad_bias) {
  __shared__ A buf[2][kThreads];
  const int64_t count = g.n * g.s;
  for (int64_t c = blockIdx.x; c < g.c; c += gridDim.x) {
    const A mu = static_cast<A>(mean[c]);
    A v[2] = {A(0), A(0)};
    for (int64_t m = threadIdx.x; m < count; m += blockDim.x) {
      const int64_t o = g.offset(c, m);
      const A gv = static_cast<A>(grad_out[o]);
      v[0] += gv;
      v[1] += gv * (static_cast<A>(x[o]) - mu);
    }
    block_sum(buf, v);
    if (threadIdx.x == 0) {
      sums[2 * c] = v[0];
      sums[2 * c + 1] = v[1];
      if (grad_bias) grad_bias[c] = static_cast<T>(v[0]);
      if (grad_weight) grad_weight[c] = static_cast<T>(v[1] * static_cast<A>(invstd[c]));
    }
  }
}

// grad_x = k (g - sum(g) / M - (x - mean) invstd^2 sum(g (x - mean)) / M), k = weight invstd (training);
// k g in evaluation (sums unused, may be null).
template <class T, class A>
__global__ void grad_x_kernel(int64_t numel, int64_t channels, int64_t s, int64_t count, bool training,
                              const T* grad_out, const T* x, const T* weight, const T* mean, const T* invstd,
                              const A* sums, T* grad_x) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < numel; i += step) {
    const int64_t c = (i / s) % channels;
    const A r = static_cast<A>(invstd[c]);
    const A k = weight ? r * static_cast<A>(weight[c]) : r;
    const A gv = static_cast<A>(grad_out[i]);
    if (training) {
      const A mean_g = sums[2 * c] / static_cast<A>(count);
      const A proj = sums[2 * c + 1] * r * r / static_cast<A>(count);
      grad_x[i] = static_cast<T>(k * (gv - mean_g - (static_cast<A>(x[i]) - static_cast<A>(mean[c])) * proj));
    } else {
      grad_x[i] = static_cast<T>(k * gv);
    }
  }
}

template <class T>
T* ptr(const Tensor& t) {
  return t.defined() ? static_cast<T*>(t.data_ptr()) : nullptr;
}

Geometry geometry_of(const Tensor& x) {
  const int64_t n = x.size(0), c = x.size(1);
  return Geometry{n, c, n * c == 0 ? 0 : x.numel() / (n * c)};
}

int64_t grid_for_channels(int64_t c) { return std::clamp<int64_t>(c, 1, 1 << 20); }

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps,
                        const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd) {
  const char* op = "batch_norm";
  const int dev = device_of(x, op);
  const Geometry g = geometry_of(x);
  if (g.c == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    using A = compute_t<T>;
    stats_kernel<T, A><<<grid_for_channels(g.c), kThreads, 0, stream(dev)>>>(
        g, ptr<const T>(x), training, momentum, eps, ptr<T>(running_mean), ptr<T>(running_var),
        ptr<T>(save_mean), ptr<T>(save_invstd));
    KILN_CUDA_CHECK_LAUNCH(op);
    if (x.numel() == 0) return;
    normalize_kernel<T, A><<<grid_for(x.numel()), kThreads, 0, stream(dev)>>>(
        x.numel(), g.c, g.s, ptr<const T>(x), ptr<const T>(save_mean), ptr<const T>(save_invstd),
        ptr<const T>(weight), ptr<const T>(bias), ptr<T>(out));
    KILN_CUDA_CHECK_LAUNCH(op);
  });
}

void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias) {
  const char* op = "batch_norm_backward";
  const int dev = device_of(x, op);
  const Geometry g = geometry_of(x);
  if (g.c == 0) return;
  const bool need_sums = grad_weight.defined() || grad_bias.defined() || (grad_x.defined() && training);
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT(x.dtype(), op, [&] {
    using T = scalar_t;
    using A = compute_t<T>;
    DeviceBuffer sums(need_sums ? 2 * g.c * sizeof(A) : 0, dev);  // stream-ordered: freed after queuing
    if (need_sums) {
      backward_sums_kernel<T, A><<<grid_for_channels(g.c), kThreads, 0, stream(dev)>>>(
          g, ptr<const T>(grad_out), ptr<const T>(x), ptr<const T>(save_mean), ptr<const T>(save_invstd),
          static_cast<A*>(sums.get()), ptr<T>(grad_weight), ptr<T>(grad_bias));
      KILN_CUDA_CHECK_LAUNCH(op);
    }
    if (!grad_x.defined() || x.numel() == 0) return;
    grad_x_kernel<T, A><<<grid_for(x.numel()), kThreads, 0, stream(dev)>>>(
        x.numel(), g.c, g.s, g.n * g.s, training, ptr<const T>(grad_out), ptr<const T>(x),
        ptr<const T>(weight), ptr<const T>(save_mean), ptr<const T>(save_invstd),
        static_cast<const A*>(sums.get()), ptr<T>(grad_x));
    KILN_CUDA_CHECK_LAUNCH(op);
  });
}

}  // namespace kiln::cuda
