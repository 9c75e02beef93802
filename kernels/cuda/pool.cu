// CUDA 2-D max pooling with the CPU kernels' contract (kernels/cpu/pool.cpp): the forward writes each
// window's maximum and its flat index h * W + w within the input plane (padding is -infinity and never
// chosen; the first of equal maxima wins; a NaN wins over numbers and a later NaN over an earlier one);
// the backward overwrites grad_x. cuDNN's pooling returns no indices, so these are kiln's own kernels.
//
// The backward is a gather, not a scatter: each grad_x element visits the windows that contain it, in
// increasing output order, and sums grad_out where the window's index names it. No atomics, so the
// result is deterministic and adds in the CPU's order. f16/bf16 compare in float (exact, so ties and NaNs
// resolve as in f32) and the backward sums in float and rounds once, as the CPU's reference
// (kernels/cpu/reduced_float.cpp) does. Depends on strided.cuh (launch sizes) and half.cuh.
#include <cmath>
#include <limits>

#include "kiln/kernels/cuda/half.cuh"
#include "kiln/kernels/cuda/strided.cuh"

namespace kiln::cuda {
namespace {

// One thread per output element (n, c, oh, ow), taps in row-major order.
template <class T>
__global__ void max_pool2d_kernel(Pool2dArgs a, const T* x, T* out, int64_t* indices) {
  const int64_t plane_out = a.h_out * a.w_out, total = a.n * a.c * plane_out;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t ow = i % a.w_out, oh = (i / a.w_out) % a.h_out, plane = i / plane_out;
    const T* xp = x + plane * a.h * a.w;
    const int64_t h0 = oh * a.stride_h - a.pad_h, w0 = ow * a.stride_w - a.pad_w;
    using A = compute_t<T>;
    A best = -std::numeric_limits<A>::infinity();
    int64_t best_i = -1;
    for (int64_t ki = 0; ki < a.kh; ++ki) {
      const int64_t ih = h0 + ki * a.dil_h;
      if (ih < 0 || ih >= a.h) continue;
      for (int64_t kj = 0; kj < a.kw; ++kj) {
        const int64_t iw = w0 + kj * a.dil_w;
        if (iw < 0 || iw >= a.w) continue;
        const int64_t at = ih * a.w + iw;
        const A v = to_compute(xp[at]);
        // The first valid tap always counts; then a NaN replaces anything, a number only a smaller number.
        if (best_i < 0 || isnan(v) || (!isnan(best) && v > best)) best = v, best_i = at;
      }
    }
    // The chosen element itself (its bits, NaN payloads included); -infinity where no tap was valid.
    out[i] = best_i < 0 ? from_compute<T>(best) : xp[best_i];
    indices[i] = best_i < 0 ? 0 : best_i;  // no valid tap: unreachable with validated sizes, never garbage
  }
}

// Whether output o's window (along one axis) has a tap k in [0, taps) at o * stride - pad + k * dil == pos.
__device__ bool tap_hits(int64_t pos, int64_t o, int64_t stride, int64_t pad, int64_t dil, int64_t taps) {
  const int64_t t = pos + pad - o * stride;  // must be k * dil with k in [0, taps)
  return t >= 0 && t % dil == 0 && t / dil < taps;
}

// One thread per input element (n, c, ih, iw): the outputs whose windows can hold it are
// oh in [ceil((ih + pad - (kH - 1) dil) / stride), floor((ih + pad) / stride)], likewise ow.
// With dilation a window can miss the input entirely; the forward then names position 0, so where the
// host found such windows (empty_windows) position 0 scans every output instead.
template <class T>
__global__ void max_pool2d_backward_kernel(Pool2dArgs a, const T* grad_out, const int64_t* indices,
                                           bool empty_windows, T* gx) {
  const int64_t plane_in = a.h * a.w, plane_out = a.h_out * a.w_out, total = a.n * a.c * plane_in;
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += step) {
    const int64_t at = i % plane_in, ih = at / a.w, iw = at % a.w, plane = i / plane_in;
    const T* g = grad_out + plane * plane_out;
    const int64_t* idx = indices + plane * plane_out;
    // Candidate ranges (clipped to the output); tap_hits filters the ones dilation skips.
    const int64_t span_h = ih + a.pad_h - (a.kh - 1) * a.dil_h, span_w = iw + a.pad_w - (a.kw - 1) * a.dil_w;
    const int64_t oh_lo = span_h <= 0 ? 0 : (span_h + a.stride_h - 1) / a.stride_h;
    const int64_t ow_lo = span_w <= 0 ? 0 : (span_w + a.stride_w - 1) / a.stride_w;
    const int64_t oh_end = (ih + a.pad_h) / a.stride_h + 1, ow_end = (iw + a.pad_w) / a.stride_w + 1;
    const int64_t oh_hi = oh_end < a.h_out ? oh_end : a.h_out, ow_hi = ow_end < a.w_out ? ow_end : a.w_out;
    compute_t<T> sum = 0;
    if (empty_windows && at == 0) {
      for (int64_t o = 0; o < plane_out; ++o)
        if (idx[o] == 0) sum += to_compute(g[o]);
      gx[i] = from_compute<T>(sum);
      continue;
    }
    for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
      if (!tap_hits(ih, oh, a.stride_h, a.pad_h, a.dil_h, a.kh)) continue;
      for (int64_t ow = ow_lo; ow < ow_hi; ++ow) {
        if (!tap_hits(iw, ow, a.stride_w, a.pad_w, a.dil_w, a.kw)) continue;
        const int64_t o = oh * a.w_out + ow;
        if (idx[o] == at) sum += to_compute(g[o]);
      }
    }
    gx[i] = from_compute<T>(sum);
  }
}

// Whether some output's window holds no input position along one axis (only possible with dilation).
bool has_empty_window(int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t out) {
  for (int64_t o = 0; o < out; ++o) {
    bool any = false;
    for (int64_t t = 0; t < k && !any; ++t) {
      const int64_t pos = o * stride - pad + t * dil;
      any = pos >= 0 && pos < size;
    }
    if (!any) return true;
  }
  return false;
}

}  // namespace

void max_pool2d(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices) {
  KILN_ASSERT(x.is_contiguous() && out.is_contiguous() && indices.is_contiguous(), "max_pool2d: contiguous");
  const int dev = device_of(out, "max_pool2d");
  const int64_t total = a.n * a.c * a.h_out * a.w_out;
  if (total == 0) return;
  DeviceGuard guard(dev);
  KILN_DISPATCH_FLOAT_WITH_HALF(x.dtype(), "max_pool2d", [&] {
    max_pool2d_kernel<scalar_t><<<grid_for(total), kThreads, 0, stream(dev)>>>(
        a, static_cast<const scalar_t*>(x.data_ptr()), static_cast<scalar_t*>(out.data_ptr()),
        static_cast<int64_t*>(indices.data_ptr()));
  });
  KILN_CUDA_CHECK_LAUNCH("max_pool2d");
}

void max_pool2d_backward(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                         const Tensor& grad_x) {
  KILN_ASSERT(grad_out.is_contiguous() && indices.is_contiguous() && grad_x.is_contiguous(),
              "max_pool2d_backward: contiguous");
  const int dev = device_of(grad_x, "max_pool2d_backward");
  const int64_t total = a.n * a.c * a.h * a.w;
  if (total == 0) return;
  DeviceGuard guard(dev);
  const bool empty_windows = has_empty_window(a.h, a.kh, a.stride_h, a.pad_h, a.dil_h, a.h_out) ||
                             has_empty_window(a.w, a.kw, a.stride_w, a.pad_w, a.dil_w, a.w_out);
  KILN_DISPATCH_FLOAT_WITH_HALF(grad_out.dtype(), "max_pool2d_backward", [&] {
    max_pool2d_backward_kernel<scalar_t><<<grid_for(total), kThreads, 0, stream(dev)>>>(
        a, static_cast<const scalar_t*>(grad_out.data_ptr()), static_cast<const int64_t*>(indices.data_ptr()),
        empty_windows, static_cast<scalar_t*>(grad_x.data_ptr()));
  });
  KILN_CUDA_CHECK_LAUNCH("max_pool2d_backward");
}

}  // namespace kiln::cuda
