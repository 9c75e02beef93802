// CPU 2-D convolution kernels (forward with fused bias, backward-data, backward-filter) by im2col + Eigen
// GEMM.
// Work is split over the batch: each sample's GEMMs run single-threaded on one OpenMP thread, and the
// filter gradient sums fixed chunks of the batch (chunking from the shape alone) in a fixed order, so
// results never depend on the thread count. Depends on cpu_kernels.h (the table contract) and Eigen.
#include <algorithm>
#include <vector>

#include <Eigen/Core>

#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

template <class T>
using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ConstMat = Eigen::Map<const RowMajor<T>>;
template <class T>
using MutMat = Eigen::Map<RowMajor<T>>;

// Below this many multiply-adds a convolution runs on the calling thread.
constexpr int64_t kParallelMacs = int64_t{1} << 18;
// The filter gradient sums at most this many per-chunk partial results.
constexpr int64_t kMaxFilterChunks = 16;

// [lo, hi) of output positions o with 0 <= o * stride + off < size, clipped to [0, n_out).
void valid_range(int64_t off, int64_t stride, int64_t size, int64_t n_out, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = size - off <= 0 ? 0 : (size - 1 - off) / stride + 1;
  hi = std::min(hi, n_out);
  lo = std::min(lo, hi);
}

// Patch rows are short (W_out elements), so the loops below copy and zero elementwise: library
// memcpy/memset calls, which GCC would otherwise substitute for them, cost more than they move.
#define KILN_NO_LIBCALLS __attribute__((optimize("no-tree-loop-distribute-patterns")))

// col (channels * kH * kW, H_out * W_out) = the input patches of x (channels, H, W), zero outside x.
template <class T>
KILN_NO_LIBCALLS void im2col(const Conv2dArgs& a, const T* x, int64_t channels, T* col) {
  const int64_t plane_out = a.h_out * a.w_out;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t ki = 0; ki < a.kh; ++ki) {
      for (int64_t kj = 0; kj < a.kw; ++kj) {
        T* row = col + ((c * a.kh + ki) * a.kw + kj) * plane_out;
        const int64_t off_w = kj * a.dil_w - a.pad_w;
        int64_t lo, hi;
        valid_range(off_w, a.stride_w, a.w, a.w_out, lo, hi);
        for (int64_t oh = 0; oh < a.h_out; ++oh) {
          T* r = row + oh * a.w_out;
          const int64_t ih = oh * a.stride_h - a.pad_h + ki * a.dil_h;
          if (ih < 0 || ih >= a.h) {
            for (int64_t o = 0; o < a.w_out; ++o) r[o] = T(0);
            continue;
          }
          const T* xr = x + (c * a.h + ih) * a.w;  // xr[o * stride_w + off_w] is in x for o in [lo, hi)
          for (int64_t o = 0; o < lo; ++o) r[o] = T(0);
          if (a.stride_w == 1) {
            for (int64_t o = lo; o < hi; ++o) r[o] = xr[o + off_w];
          } else {
            for (int64_t o = lo; o < hi; ++o) r[o] = xr[o * a.stride_w + off_w];
          }
          for (int64_t o = hi; o < a.w_out; ++o) r[o] = T(0);
        }
      }
    }
  }
}

// The adjoint of im2col: adds each patch entry of col back into x (channels, H, W).
template <class T>
void col2im_add(const Conv2dArgs& a, const T* col, int64_t channels, T* x) {
  const int64_t plane_out = a.h_out * a.w_out;
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t ki = 0; ki < a.kh; ++ki) {
      for (int64_t kj = 0; kj < a.kw; ++kj) {
        const T* row = col + ((c * a.kh + ki) * a.kw + kj) * plane_out;
        const int64_t off_w = kj * a.dil_w - a.pad_w;
        int64_t lo, hi;
        valid_range(off_w, a.stride_w, a.w, a.w_out, lo, hi);
        for (int64_t oh = 0; oh < a.h_out; ++oh) {
          const int64_t ih = oh * a.stride_h - a.pad_h + ki * a.dil_h;
          if (ih < 0 || ih >= a.h) continue;
          const T* r = row + oh * a.w_out;
          T* xr = x + (c * a.h + ih) * a.w;
          if (a.stride_w == 1) {
            for (int64_t o = lo; o < hi; ++o) xr[o + off_w] += r[o];
          } else {
            for (int64_t o = lo; o < hi; ++o) xr[o * a.stride_w + off_w] += r[o];
          }
        }
      }
    }
  }
}

// A 1x1 convolution with unit stride and no padding reads x itself as its patch matrix.
bool is_pointwise(const Conv2dArgs& a) {
  return a.kh == 1 && a.kw == 1 && a.stride_h == 1 && a.stride_w == 1 && a.pad_h == 0 && a.pad_w == 0 &&
         a.h_out == a.h && a.w_out == a.w;
}

int64_t macs(const Conv2dArgs& a) {
  return a.n * a.c_out * a.h_out * a.w_out * (a.c_in / a.groups) * a.kh * a.kw;
}

// Per-group sizes: input channels cg and output channels cog of a group, k = cg kH kW (a row of the
// im2col matrix per output position), and the input and output plane sizes.
struct Groups {
  int64_t cg, cog, k, plane_in, plane_out;
  bool pointwise;
  explicit Groups(const Conv2dArgs& a)
      : cg(a.c_in / a.groups),
        cog(a.c_out / a.groups),
        k(cg * a.kh * a.kw),
        plane_in(a.h * a.w),
        plane_out(a.h_out * a.w_out),
        pointwise(is_pointwise(a)) {}
};

// Calls f(n, g, col) for every image n and group g, the images split across threads in fixed blocks; col
// is the calling thread's im2col scratch (k x plane_out; none for a pointwise convolution).
template <class T, class F>
void for_each_image_group(const Conv2dArgs& a, const Groups& s, F f) {
#pragma omp parallel if (macs(a) > kParallelMacs)
  {
    std::vector<T> col(s.pointwise ? 0 : s.k * s.plane_out);
#pragma omp for schedule(static)
    for (int64_t n = 0; n < a.n; ++n)
      for (int64_t g = 0; g < a.groups; ++g) f(n, g, col.data());
  }
}

template <class T>
void conv2d_typed(const Conv2dArgs& a, const T* x, const T* w, const T* bias, T* out) {
  const Groups s(a);
  for_each_image_group<T>(a, s, [&](int64_t n, int64_t g, T* col) {
    const T* xg = x + (n * a.c_in + g * s.cg) * s.plane_in;
    if (!s.pointwise) im2col(a, xg, s.cg, col);
    ConstMat<T> patches(s.pointwise ? xg : col, s.k, s.plane_out);
    ConstMat<T> wg(w + g * s.cog * s.k, s.cog, s.k);
    MutMat<T> og(out + (n * a.c_out + g * s.cog) * s.plane_out, s.cog, s.plane_out);
    if (bias) {
      // Starting from the bias saves a separate pass over the output.
      for (int64_t o = 0; o < s.cog; ++o) og.row(o).setConstant(bias[g * s.cog + o]);
      og.noalias() += wg * patches;
    } else {
      og.noalias() = wg * patches;
    }
  });
}

template <class T>
void conv2d_backward_data_typed(const Conv2dArgs& a, const T* gout, const T* w, T* gx) {
  const Groups s(a);
  for_each_image_group<T>(a, s, [&](int64_t n, int64_t g, T* col) {
    T* xg = gx + (n * a.c_in + g * s.cg) * s.plane_in;
    ConstMat<T> wg(w + g * s.cog * s.k, s.cog, s.k);
    ConstMat<T> gg(gout + (n * a.c_out + g * s.cog) * s.plane_out, s.cog, s.plane_out);
    if (s.pointwise) {
      MutMat<T>(xg, s.k, s.plane_out).noalias() = wg.transpose() * gg;
      return;
    }
    MutMat<T>(col, s.k, s.plane_out).noalias() = wg.transpose() * gg;
    std::fill(xg, xg + s.cg * s.plane_in, T(0));
    col2im_add(a, col, s.cg, xg);
  });
}

template <class T>
void conv2d_backward_filter_typed(const Conv2dArgs& a, const T* x, const T* gout, T* gw) {
  const Groups s(a);
  const int64_t cg = s.cg, cog = s.cog, k = s.k, plane_in = s.plane_in, plane_out = s.plane_out;
  const int64_t wsize = a.c_out * k;
  const bool pointwise = s.pointwise;
  // Fixed chunks of the batch, each summed into its own partial; partials are added in chunk order.
  const int64_t chunk = (a.n + kMaxFilterChunks - 1) / kMaxFilterChunks;
  const int64_t chunks = a.n == 0 ? 0 : (a.n + chunk - 1) / chunk;
  std::vector<T> partial(chunks * wsize, T(0));
#pragma omp parallel if (macs(a) > kParallelMacs)
  {
    std::vector<T> col(pointwise ? 0 : k * plane_out);
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < chunks; ++c) {
      T* p = partial.data() + c * wsize;
      for (int64_t n = c * chunk; n < std::min(a.n, (c + 1) * chunk); ++n) {
        for (int64_t g = 0; g < a.groups; ++g) {
          const T* xg = x + (n * a.c_in + g * cg) * plane_in;
          if (!pointwise) im2col(a, xg, cg, col.data());
          ConstMat<T> patches(pointwise ? xg : col.data(), k, plane_out);
          ConstMat<T> gg(gout + (n * a.c_out + g * cog) * plane_out, cog, plane_out);
          MutMat<T>(p + g * cog * k, cog, k).noalias() += gg * patches.transpose();
        }
      }
    }
  }
  std::fill(gw, gw + wsize, T(0));
  for (int64_t c = 0; c < chunks; ++c) {
    const T* p = partial.data() + c * wsize;
    for (int64_t i = 0; i < wsize; ++i) gw[i] += p[i];
  }
}

}  // namespace

void native::conv2d(const Conv2dArgs& a, const Tensor& x, const Tensor& weight, const Tensor& bias,
                    const Tensor& out) {
  KILN_ASSERT(x.is_contiguous() && weight.is_contiguous() && out.is_contiguous() &&
                  (!bias.defined() || bias.is_contiguous()),
              "conv2d: contiguous");
  KILN_DISPATCH_FLOAT(x.dtype(), "conv2d", [&] {
    conv2d_typed<scalar_t>(a, x.data<scalar_t>(), weight.data<scalar_t>(),
                           bias.defined() ? bias.data<scalar_t>() : nullptr, out.data<scalar_t>());
  });
}

void native::conv2d_backward_data(const Conv2dArgs& a, const Tensor& grad_out, const Tensor& weight,
                                  const Tensor& grad_x) {
  KILN_ASSERT(grad_out.is_contiguous() && weight.is_contiguous() && grad_x.is_contiguous(),
              "conv2d_backward_data: contiguous");
  KILN_DISPATCH_FLOAT(grad_out.dtype(), "conv2d_backward_data", [&] {
    conv2d_backward_data_typed<scalar_t>(a, grad_out.data<scalar_t>(), weight.data<scalar_t>(),
                                         grad_x.data<scalar_t>());
  });
}

void native::conv2d_backward_filter(const Conv2dArgs& a, const Tensor& x, const Tensor& grad_out,
                                    const Tensor& grad_weight) {
  KILN_ASSERT(x.is_contiguous() && grad_out.is_contiguous() && grad_weight.is_contiguous(),
              "conv2d_backward_filter: contiguous");
  KILN_DISPATCH_FLOAT(x.dtype(), "conv2d_backward_filter", [&] {
    conv2d_backward_filter_typed<scalar_t>(a, x.data<scalar_t>(), grad_out.data<scalar_t>(),
                                           grad_weight.data<scalar_t>());
  });
}

}  // namespace kiln::cpu
