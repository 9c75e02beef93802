// The CUDA convolutions without cuDNN: im2col / col2im kernels around the backend's cuBLAS gemm, for f32,
// f64, f16 and bf16 (the gemm's dtypes; f16/bf16 kernels sum in float and round once per store, as
// half.cuh describes). Used where kiln is built without cuDNN, where cuDNN declines a case, and when
// tests force it (detail::set_conv_fallback_only). Also the per-channel bias addition both paths use.
//
// The batch runs in chunks of samples whose patch matrix fits kColBudgetBytes. Per chunk and group:
//   forward:          out[b] (C_out/g, P) = W_g (C_out/g, K) @ col[b] (K, P)        one strided-batched gemm
//   backward data:    col[b] = W_g^T @ grad_out[b], then col2im gathers col into grad_x
//   backward filter:  grad_W_g += grad_out_g (C_out/g, nb P) @ col_g^T (nb P, K)  one gemm, chunks summed
// with P = H_out W_out and K = C_in/g kH kW. col2im is a gather (each grad_x element sums its own taps in
// a fixed order), so every result is deterministic. Depends on cuda_kernels.h and strided.cuh (launch
// sizes) and half.cuh.
#include <algorithm>

#include "kiln/kernels/cuda/half.cuh"
#include "kiln/kernels/cuda/strided.cuh"

namespace kiln::cuda {
namespace {

// The most bytes one chunk's patch matrix (plus, for the filter gradient, its grad_out copy) may take.
constexpr int64_t kColBudgetBytes = int64_t{256} << 20;

// col[b * sample_stride + r * row_stride + p] = x[b, c, ih, iw] (0 outside x) for the patch row
// r = (c kH + ki) kW + kj and output position p = oh W_out + ow of samples b in [0, nb).
template <class T>
__global__ void im2col_kernel(Conv2dArgs a, const T* x, int64_t nb, T* col, int64_t sample_stride,
                              int64_t row_stride) {
  const int64_t plane_out = a.h_out * a.w_out, rows = a.c_in * a.kh * a.kw, total = nb * rows * plane_out;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t p = i % plane_out, r = (i / plane_out) % rows, b = i / (plane_out * rows);
    const int64_t oh = p / a.w_out, ow = p % a.w_out;
    const int64_t kj = r % a.kw, ki = (r / a.kw) % a.kh, c = r / (a.kw * a.kh);
    const int64_t ih = oh * a.stride_h - a.pad_h + ki * a.dil_h;
    const int64_t iw = ow * a.stride_w - a.pad_w + kj * a.dil_w;
    T v = from_compute<T>(0);
    if (ih >= 0 && ih < a.h && iw >= 0 && iw < a.w) v = x[((b * a.c_in + c) * a.h + ih) * a.w + iw];
    col[b * sample_stride + r * row_stride + p] = v;
  }
}

// grad_x[b, c, ih, iw] = the sum of the col entries (layout (nb, C_in kH kW, P)) that im2col would have
// read from that position: taps (ki, kj) with oh = (ih + pad_h - ki dil_h) / stride_h a whole number in
// [0, H_out), likewise ow. Taps are summed in (ki, kj) order, as the CPU's col2im adds them.
template <class T>
__global__ void col2im_kernel(Conv2dArgs a, const T* col, int64_t nb, T* gx) {
  const int64_t plane_in = a.h * a.w, plane_out = a.h_out * a.w_out, total = nb * a.c_in * plane_in;
  const int64_t rows = a.c_in * a.kh * a.kw;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t iw = i % a.w, ih = (i / a.w) % a.h, c = (i / plane_in) % a.c_in,
                  b = i / (a.c_in * plane_in);
    const T* cb = col + b * rows * plane_out;
    compute_t<T> sum = 0;
    for (int64_t ki = 0; ki < a.kh; ++ki) {
      const int64_t th = ih + a.pad_h - ki * a.dil_h;
      if (th < 0 || th % a.stride_h != 0 || th / a.stride_h >= a.h_out) continue;
      const int64_t oh = th / a.stride_h;
      for (int64_t kj = 0; kj < a.kw; ++kj) {
        const int64_t tw = iw + a.pad_w - kj * a.dil_w;
        if (tw < 0 || tw % a.stride_w != 0 || tw / a.stride_w >= a.w_out) continue;
        const int64_t ow = tw / a.stride_w;
        sum += to_compute(cb[((c * a.kh + ki) * a.kw + kj) * plane_out + oh * a.w_out + ow]);
      }
    }
    gx[i] = from_compute<T>(sum);
  }
}

// dst (C, nb, P) = src (nb, C, P) permuted: puts one channel's gradient of every sample in one row.
template <class T>
__global__ void channels_first_kernel(const T* src, int64_t nb, int64_t channels, int64_t plane, T* dst) {
  const int64_t total = nb * channels * plane;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t p = i % plane, c = (i / plane) % channels, b = i / (plane * channels);
    dst[(c * nb + b) * plane + p] = src[i];
  }
}

template <class T>
__global__ void bias_kernel(T* out, const T* bias, int64_t total, int64_t channels, int64_t plane) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step)
    out[i] = from_compute<T>(to_compute(out[i]) + to_compute(bias[(i / plane) % channels]));
}

// A 1x1 convolution with unit stride and no padding: x is its own patch matrix and grad_x its own col.
bool is_pointwise(const Conv2dArgs& a) {
  return a.kh == 1 && a.kw == 1 && a.stride_h == 1 && a.stride_w == 1 && a.pad_h == 0 && a.pad_w == 0 &&
         a.h_out == a.h && a.w_out == a.w;
}

// Samples per chunk: as many as fit the budget at `per_sample` bytes each, at least 1.
int64_t chunk_samples(int64_t per_sample, int64_t n) {
  return std::clamp<int64_t>(kColBudgetBytes / std::max<int64_t>(per_sample, 1), 1, std::max<int64_t>(n, 1));
}

template <class T>
void launch_im2col(int dev, const Conv2dArgs& a, const T* x, int64_t nb, T* col, int64_t sample_stride,
                   int64_t row_stride) {
  const int64_t total = nb * a.c_in * a.kh * a.kw * a.h_out * a.w_out;
  if (total == 0) return;
  im2col_kernel<T><<<grid_for(total), kThreads, 0, stream(dev)>>>(a, x, nb, col, sample_stride, row_stride);
  KILN_CUDA_CHECK_LAUNCH("conv2d (im2col)");
}

// Geometry shared by the three entries.
struct Dims {
  int64_t cg, cog, k, rows, plane_in, plane_out;
  explicit Dims(const Conv2dArgs& a)
      : cg(a.c_in / a.groups),
        cog(a.c_out / a.groups),
        k(cg * a.kh * a.kw),
        rows(a.c_in * a.kh * a.kw),
        plane_in(a.h * a.w),
        plane_out(a.h_out * a.w_out) {}
};

template <class T>
void forward_typed(int dev, const Conv2dArgs& a, const T* x, const T* w, T* out) {
  const Dims d(a);
  const bool pointwise = is_pointwise(a);
  const int64_t chunk =
      pointwise ? std::max<int64_t>(a.n, 1) : chunk_samples(d.rows * d.plane_out * sizeof(T), a.n);
  DeviceBuffer col(pointwise ? 0 : chunk * d.rows * d.plane_out * sizeof(T), dev);
  for (int64_t n0 = 0; n0 < a.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, a.n - n0);
    const T* patches = x + n0 * a.c_in * d.plane_in;
    if (!pointwise) {
      launch_im2col(dev, a, patches, nb, static_cast<T*>(col.get()), d.rows * d.plane_out, d.plane_out);
      patches = static_cast<const T*>(col.get());
    }
    for (int64_t g = 0; g < a.groups; ++g) {
      GemmArgs ga;
      ga.dtype = DTypeOf<T>::value;
      ga.m = d.cog, ga.n = d.plane_out, ga.k = d.k, ga.batch = nb;
      ga.a = w + g * d.cog * d.k, ga.lda = d.k, ga.stride_a = 0;
      ga.b = patches + g * d.k * d.plane_out, ga.ldb = d.plane_out, ga.stride_b = d.rows * d.plane_out;
      ga.c = out + (n0 * a.c_out + g * d.cog) * d.plane_out, ga.ldc = d.plane_out,
      ga.stride_c = a.c_out * d.plane_out;
      gemm(ga);
    }
  }
}

template <class T>
void backward_data_typed(int dev, const Conv2dArgs& a, const T* gout, const T* w, T* gx) {
  const Dims d(a);
  const bool pointwise = is_pointwise(a);
  const int64_t chunk =
      pointwise ? std::max<int64_t>(a.n, 1) : chunk_samples(d.rows * d.plane_out * sizeof(T), a.n);
  DeviceBuffer col(pointwise ? 0 : chunk * d.rows * d.plane_out * sizeof(T), dev);
  for (int64_t n0 = 0; n0 < a.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, a.n - n0);
    T* gxb = gx + n0 * a.c_in * d.plane_in;
    T* target = pointwise ? gxb : static_cast<T*>(col.get());
    for (int64_t g = 0; g < a.groups; ++g) {
      GemmArgs ga;
      ga.dtype = DTypeOf<T>::value;
      ga.trans_a = true;  // W_g is stored (C_out/g, K)
      ga.m = d.k, ga.n = d.plane_out, ga.k = d.cog, ga.batch = nb;
      ga.a = w + g * d.cog * d.k, ga.lda = d.k, ga.stride_a = 0;
      ga.b = gout + (n0 * a.c_out + g * d.cog) * d.plane_out, ga.ldb = d.plane_out,
      ga.stride_b = a.c_out * d.plane_out;
      ga.c = target + g * d.k * d.plane_out, ga.ldc = d.plane_out, ga.stride_c = d.rows * d.plane_out;
      gemm(ga);
    }
    if (!pointwise) {
      const int64_t total = nb * a.c_in * d.plane_in;
      if (total == 0) continue;
      col2im_kernel<T><<<grid_for(total), kThreads, 0, stream(dev)>>>(a, target, nb, gxb);
      KILN_CUDA_CHECK_LAUNCH("conv2d_backward_data (col2im)");
    }
  }
}

template <class T>
void backward_filter_typed(int dev, const Conv2dArgs& a, const T* x, const T* gout, T* gw) {
  const Dims d(a);
  if (a.n == 0) {  // an empty batch contributes nothing: the gradient is zero
    KILN_CUDA_CHECK(cudaMemsetAsync(gw, 0, a.c_out * d.k * sizeof(T), stream(dev)), "conv2d_backward_filter");
    return;
  }
  const int64_t chunk = chunk_samples((d.rows + a.c_out) * d.plane_out * sizeof(T), a.n);
  DeviceBuffer col(chunk * d.rows * d.plane_out * sizeof(T), dev);
  DeviceBuffer gt(chunk * a.c_out * d.plane_out * sizeof(T), dev);
  T* colp = static_cast<T*>(col.get());
  T* gtp = static_cast<T*>(gt.get());
  for (int64_t n0 = 0; n0 < a.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, a.n - n0), cols = nb * d.plane_out;
    // Patch rows of all nb samples side by side: row r is (nb, P), so K = nb P in one gemm.
    launch_im2col(dev, a, x + n0 * a.c_in * d.plane_in, nb, colp, d.plane_out, cols);
    const int64_t total = nb * a.c_out * d.plane_out;
    if (total > 0) {
      channels_first_kernel<T><<<grid_for(total), kThreads, 0, stream(dev)>>>(
          gout + n0 * a.c_out * d.plane_out, nb, a.c_out, d.plane_out, gtp);
      KILN_CUDA_CHECK_LAUNCH("conv2d_backward_filter (permute)");
    }
    for (int64_t g = 0; g < a.groups; ++g) {
      GemmArgs ga;
      ga.dtype = DTypeOf<T>::value;
      ga.trans_b = true;  // col_g is stored (K, nb P)
      ga.m = d.cog, ga.n = d.k, ga.k = cols, ga.beta = n0 == 0 ? 0.0 : 1.0;
      ga.a = gtp + g * d.cog * cols, ga.lda = cols;
      ga.b = colp + g * d.k * cols, ga.ldb = cols;
      ga.c = gw + g * d.cog * d.k, ga.ldc = d.k;
      gemm(ga);
    }
  }
}

void check_fallback_dtype(DType t, const char* op) {
  KILN_CHECK(t == DType::f32 || t == DType::f64 || is_reduced_float(t), op,
             " on CUDA: the im2col fallback (no cuDNN for this case) ",
             "supports f32, f64, f16 and bf16, got ", t);
}

// Checks the dtype, makes out's device current and calls run(device, (T*)nullptr) with T the element
// type of `t` (the null pointer only carries the type).
template <class F>
void run_typed(const char* op, DType t, const Tensor& out, F run) {
  const int dev = device_of(out, op);
  check_fallback_dtype(t, op);
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT_WITH_HALF(t, op, [&] { run(dev, static_cast<scalar_t*>(nullptr)); });
}

}  // namespace

void conv2d_fallback(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& out) {
  run_typed("conv2d", x.dtype(), out, [&]<class T>(int dev, T*) {
    forward_typed<T>(dev, a, cptr<T>(x), cptr<T>(weight), mptr<T>(out));
  });
}

void conv2d_backward_data_fallback(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                                   const Tensor& grad_x) {
  run_typed("conv2d_backward_data", grad_out.dtype(), grad_x, [&]<class T>(int dev, T*) {
    backward_data_typed<T>(dev, a, cptr<T>(grad_out), cptr<T>(weight), mptr<T>(grad_x));
  });
}

void conv2d_backward_filter_fallback(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                                     const Tensor& grad_weight) {
  run_typed("conv2d_backward_filter", x.dtype(), grad_weight, [&]<class T>(int dev, T*) {
    backward_filter_typed<T>(dev, a, cptr<T>(x), cptr<T>(grad_out), mptr<T>(grad_weight));
  });
}

void add_channel_bias(const Tensor& out, const Tensor& bias) {
  const int dev = device_of(out, "conv2d (bias)");
  const int64_t total = out.numel();
  if (total == 0) return;
  const int64_t channels = out.size(1), plane = out.size(2) * out.size(3);
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT_WITH_HALF(out.dtype(), "conv2d (bias)", [&] {
    bias_kernel<scalar_t><<<grid_for(total), kThreads, 0, stream(dev)>>>(
        static_cast<scalar_t*>(out.data_ptr()), static_cast<const scalar_t*>(bias.data_ptr()), total,
        channels, plane);
  });
  KILN_CUDA_CHECK_LAUNCH("conv2d (bias)");
}

}  // namespace kiln::cuda
