// CPU 2-D max pooling, forward (values and argmax indices) and backward (scatter of the gradient to the
// argmax positions). Each (n, c) plane is independent, so planes are split over OpenMP threads and results
// never depend on the thread count. Depends on cpu_kernels.h (the table contract).
#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kParallelWork = 32768;  // output elements times window size

template <class T>
void max_pool2d_plane(const Pool2dArgs& a, const T* x, T* out, int64_t* idx) {
  for (int64_t oh = 0; oh < a.h_out; ++oh) {
    int64_t h0 = oh * a.stride_h - a.pad_h;
    int64_t first_h = h0;
    while (first_h < 0) first_h += a.dil_h;
    for (int64_t ow = 0; ow < a.w_out; ++ow) {
      int64_t w0 = ow * a.stride_w - a.pad_w;
      int64_t first_w = w0;
      while (first_w < 0) first_w += a.dil_w;
      T best = -std::numeric_limits<T>::infinity();
      int64_t best_i = first_h * a.w + first_w;
      for (int64_t ki = 0; ki < a.kh; ++ki) {
        const int64_t ih = h0 + ki * a.dil_h;
        if (ih < 0 || ih >= a.h) continue;
        for (int64_t kj = 0; kj < a.kw; ++kj) {
          const int64_t iw = w0 + kj * a.dil_w;
          if (iw < 0 || iw >= a.w) continue;
          const T v = x[ih * a.w + iw];
          if (v > best || std::isnan(v)) best = v, best_i = ih * a.w + iw;
        }
      }
      out[oh * a.w_out + ow] = best;
      idx[oh * a.w_out + ow] = best_i;
    }
  }
}

template <class T>
void max_pool2d_typed(const Pool2dArgs& a, const T* x, T* out, int64_t* idx) {
  const int64_t planes = a.n * a.c, plane_in = a.h * a.w, plane_out = a.h_out * a.w_out;
#pragma omp parallel for schedule(static) if (planes * plane_out * a.kh * a.kw > kParallelWork)
  for (int64_t p = 0; p < planes; ++p)
    max_pool2d_plane<T>(a, x + p * plane_in, out + p * plane_out, idx + p * plane_out);
}

template <class T>
void max_pool2d_backward_typed(const Pool2dArgs& a, const T* g, const int64_t* idx, T* gx) {
  const int64_t planes = a.n * a.c, plane_in = a.h * a.w, plane_out = a.h_out * a.w_out;
#pragma omp parallel for schedule(static) if (planes * (plane_in + plane_out) > kParallelWork)
  for (int64_t p = 0; p < planes; ++p) {
    T* dst = gx + p * plane_in;
    std::fill(dst, dst + plane_in, T(0));
    const T* src = g + p * plane_out;
    const int64_t* ip = idx + p * plane_out;
    for (int64_t o = 0; o < plane_out; ++o) dst[ip[o]] += src[o];
  }
}

}  // namespace

void max_pool2d(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices) {
  KILN_ASSERT(x.is_contiguous() && out.is_contiguous() && indices.is_contiguous(), "max_pool2d: contiguous");
  KILN_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    max_pool2d_typed<scalar_t>(a, x.data<scalar_t>(), out.data<scalar_t>(), indices.data<int64_t>());
  });
}

void max_pool2d_backward(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                         const Tensor& grad_x) {
  KILN_ASSERT(grad_out.is_contiguous() && indices.is_contiguous() && grad_x.is_contiguous(),
              "max_pool2d_backward: contiguous");
  KILN_DISPATCH_FLOAT(grad_out.dtype(), "max_pool2d_backward", [&] {
    max_pool2d_backward_typed<scalar_t>(a, grad_out.data<scalar_t>(), indices.data<int64_t>(),
                                        grad_x.data<scalar_t>());
  });
}

}  // namespace kiln::cpu
