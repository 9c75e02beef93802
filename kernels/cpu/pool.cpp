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

// [lo, hi) of window taps k in [0, taps) with 0 <= start + k * dil < size.
void valid_taps(int64_t start, int64_t dil, int64_t taps, int64_t size, int64_t& lo, int64_t& hi) {
  if (start >= 0 && start + (taps - 1) * dil < size) {  // the common interior window: no division
    lo = 0, hi = taps;
    return;
  }
  lo = start >= 0 ? 0 : (-start + dil - 1) / dil;
  hi = size - 1 - start < 0 ? 0 : std::min(taps, (size - 1 - start) / dil + 1);
  lo = std::min(lo, hi);
}

template <class T>
void max_pool2d_plane(const Pool2dArgs& a, const T* x, T* out, int64_t* idx) {
  for (int64_t oh = 0; oh < a.h_out; ++oh) {
    const int64_t h0 = oh * a.stride_h - a.pad_h;
    int64_t ki_lo, ki_hi;
    valid_taps(h0, a.dil_h, a.kh, a.h, ki_lo, ki_hi);
    for (int64_t ow = 0; ow < a.w_out; ++ow) {
      const int64_t w0 = ow * a.stride_w - a.pad_w;
      int64_t kj_lo, kj_hi;
      valid_taps(w0, a.dil_w, a.kw, a.w, kj_lo, kj_hi);
      const int64_t o = oh * a.w_out + ow;
      if (ki_lo == ki_hi || kj_lo == kj_hi) {  // unreachable with validated sizes; never garbage
        out[o] = -std::numeric_limits<T>::infinity();
        idx[o] = 0;
        continue;
      }
      // Two passes keep the hot loop free of data-dependent branches (which tap wins is unpredictable):
      // the maximum by selects, then the first tap holding it (PyTorch keeps the first of equal maxima).
      const int64_t first = (h0 + ki_lo * a.dil_h) * a.w + w0 + kj_lo * a.dil_w;
      T best = x[first];
      bool nan_seen = false;
      for (int64_t ki = ki_lo; ki < ki_hi; ++ki) {
        const T* row = x + (h0 + ki * a.dil_h) * a.w + w0;
        for (int64_t kj = kj_lo; kj < kj_hi; ++kj) {
          const T v = row[kj * a.dil_w];
          best = v > best ? v : best;
          nan_seen |= v != v;
        }
      }
      int64_t best_i = first;
      bool found = false;
      for (int64_t ki = ki_lo; ki < ki_hi && !found; ++ki) {
        const int64_t row = (h0 + ki * a.dil_h) * a.w + w0;
        for (int64_t kj = kj_lo; kj < kj_hi; ++kj) {
          const T v = x[row + kj * a.dil_w];
          // A NaN wins over everything, and a later NaN over an earlier one (PyTorch's rule).
          if (nan_seen ? v != v : v == best) {
            best_i = row + kj * a.dil_w, best = v, found = !nan_seen;
            if (found) break;
          }
        }
      }
      out[o] = best;
      idx[o] = best_i;
    }
  }
}

// The CNN's usual 2x2 window, stride 2, no padding or dilation, without loops over taps. Equal maxima
// resolve to the first in row-major order; a window holding a NaN takes the general path.
template <class T>
void max_pool2d_plane_2x2(const Pool2dArgs& a, const T* x, T* out, int64_t* idx) {
  for (int64_t oh = 0; oh < a.h_out; ++oh) {
    const T* r0 = x + 2 * oh * a.w;
    const T* r1 = r0 + a.w;
    for (int64_t ow = 0; ow < a.w_out; ++ow) {
      const T v0 = r0[2 * ow], v1 = r0[2 * ow + 1], v2 = r1[2 * ow], v3 = r1[2 * ow + 1];
      const int64_t o = oh * a.w_out + ow, i0 = 2 * oh * a.w + 2 * ow;
      if ((v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)) {
        // Last NaN in the window, as the general path (and PyTorch) picks.
        int64_t i = v3 != v3 ? i0 + a.w + 1 : v2 != v2 ? i0 + a.w : v1 != v1 ? i0 + 1 : i0;
        out[o] = x[i], idx[o] = i;
        continue;
      }
      const bool top_right = v1 > v0, bottom_right = v3 > v2;
      const T top = top_right ? v1 : v0, bottom = bottom_right ? v3 : v2;
      const bool lower = bottom > top;
      out[o] = lower ? bottom : top;
      idx[o] = lower ? i0 + a.w + bottom_right : i0 + top_right;
    }
  }
}

template <class T>
void max_pool2d_typed(const Pool2dArgs& a, const T* x, T* out, int64_t* idx) {
  const bool fast = a.kh == 2 && a.kw == 2 && a.stride_h == 2 && a.stride_w == 2 && a.pad_h == 0 &&
                    a.pad_w == 0 && a.dil_h == 1 && a.dil_w == 1 && 2 * a.h_out <= a.h && 2 * a.w_out <= a.w;
  const int64_t planes = a.n * a.c, plane_in = a.h * a.w, plane_out = a.h_out * a.w_out;
#pragma omp parallel for schedule(static) if (planes * plane_out * a.kh * a.kw > kParallelWork)
  for (int64_t p = 0; p < planes; ++p) {
    if (fast) {
      max_pool2d_plane_2x2<T>(a, x + p * plane_in, out + p * plane_out, idx + p * plane_out);
    } else {
      max_pool2d_plane<T>(a, x + p * plane_in, out + p * plane_out, idx + p * plane_out);
    }
  }
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

void native::max_pool2d(const Pool2dArgs& a, const Tensor& x, const Tensor& out, const Tensor& indices) {
  KILN_ASSERT(x.is_contiguous() && out.is_contiguous() && indices.is_contiguous(), "max_pool2d: contiguous");
  KILN_DISPATCH_FLOAT(x.dtype(), "max_pool2d", [&] {
    max_pool2d_typed<scalar_t>(a, x.data<scalar_t>(), out.data<scalar_t>(), indices.data<int64_t>());
  });
}

void native::max_pool2d_backward(const Pool2dArgs& a, const Tensor& grad_out, const Tensor& indices,
                                 const Tensor& grad_x) {
  KILN_ASSERT(grad_out.is_contiguous() && indices.is_contiguous() && grad_x.is_contiguous(),
              "max_pool2d_backward: contiguous");
  KILN_DISPATCH_FLOAT(grad_out.dtype(), "max_pool2d_backward", [&] {
    max_pool2d_backward_typed<scalar_t>(a, grad_out.data<scalar_t>(), indices.data<int64_t>(),
                                        grad_x.data<scalar_t>());
  });
}

}  // namespace kiln::cpu
