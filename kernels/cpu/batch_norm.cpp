// CPU batch normalization (BatchNormKernel in tensor/backend.h): the forward (batch or running statistics,
// the running- statistics update, normalize + affine) and the backward (grad_x, grad_weight, grad_bias in two
// passes). Per-channel sums accumulate in double (f32 too) in a fixed order: kLanes partial sums over the
// contiguous trailing dims, combined in lane order at the end. Channels are split over OpenMP threads and
// each channel's work never depends on how many there are, so results are bit-identical for any thread count.
// Statistics take two passes (mean, then the centered sum of squares), so a large mean costs no precision.
// Depends on cpu_kernels.h (the table contract).
#include <cmath>

#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

constexpr int kLanes = 8;  // independent partial sums: vectorizable, and a fixed summation order
constexpr int64_t kParallelWork = 32768;

// The (N, C, S) geometry of one call.
struct Geometry {
  int64_t n = 0, c = 0, s = 0;
  int64_t count() const { return n * s; }  // M: values per channel
};

Geometry geometry_of(const Tensor& x) {
  Geometry g;
  g.n = x.size(0), g.c = x.size(1);
  g.s = g.c == 0 || g.n == 0 ? 0 : x.numel() / (g.n * g.c);
  return g;
}

// Row sums into kLanes partial sums, value j of a row going to lane j % kLanes; channel_total() adds the
// lanes in order. Spelled out per quantity (rather than through a generic callback) so that the compiler
// vectorizes the f32 -> f64 conversions.
using Lanes = double[kLanes];

template <class T>
void add_values(const T* p, int64_t len, Lanes& sum) {
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes)
    for (int l = 0; l < kLanes; ++l) sum[l] += static_cast<double>(p[j + l]);
  for (; j < len; ++j) sum[j % kLanes] += static_cast<double>(p[j]);
}

template <class T>
void add_squares(const T* p, int64_t len, double mean, Lanes& sum) {
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double d = static_cast<double>(p[j + l]) - mean;
      sum[l] += d * d;
    }
  }
  for (; j < len; ++j) {
    const double d = static_cast<double>(p[j]) - mean;
    sum[j % kLanes] += d * d;
  }
}

// sum_g += g, sum_gc += g (x - mean)
template <class T>
void add_grad_sums(const T* g, const T* x, int64_t len, double mean, Lanes& sum_g, Lanes& sum_gc) {
  int64_t j = 0;
  for (; j + kLanes <= len; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const double gv = static_cast<double>(g[j + l]);
      sum_g[l] += gv;
      sum_gc[l] += gv * (static_cast<double>(x[j + l]) - mean);
    }
  }
  for (; j < len; ++j) {
    const double gv = static_cast<double>(g[j]);
    sum_g[j % kLanes] += gv;
    sum_gc[j % kLanes] += gv * (static_cast<double>(x[j]) - mean);
  }
}

double lanes_total(const Lanes& sum) {
  double t = 0;
  for (double v : sum) t += v;
  return t;
}

// The offset of row i (of N) of channel c in a contiguous (N, C, S) tensor.
int64_t row_offset(const Geometry& geo, int64_t i, int64_t c) { return (i * geo.c + c) * geo.s; }

// x - mean in T without T's rounding of the mean: mean = hi + lo, and x - hi is exact for x near the mean,
// so an f32 mean 10^4 times the spread costs no more than f32's rounding of the result.
template <class T>
struct Centering {
  T hi, lo;
  explicit Centering(double mean)
      : hi(static_cast<T>(mean)), lo(static_cast<T>(mean - static_cast<double>(static_cast<T>(mean)))) {}
  T centered(T x) const { return (x - hi) - lo; }
};

template <class T>
const T* maybe(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}
template <class T>
T* maybe_mut(const Tensor& t) {
  return t.defined() ? t.data<T>() : nullptr;
}

template <class T>
void forward_typed(const Tensor& x_t, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                   const Tensor& running_var, bool training, double momentum, double eps, const Tensor& out_t,
                   const Tensor& save_mean, const Tensor& save_invstd) {
  const Geometry geo = geometry_of(x_t);
  const T* x = x_t.data<T>();
  T* out = out_t.data<T>();
  const T *w = maybe<T>(weight), *b = maybe<T>(bias);
  T *rm = maybe_mut<T>(running_mean), *rv = maybe_mut<T>(running_var);
  T *sm = save_mean.data<T>(), *si = save_invstd.data<T>();
  const double m = static_cast<double>(geo.count());
#pragma omp parallel for schedule(static) if (x_t.numel() > kParallelWork)
  for (int64_t c = 0; c < geo.c; ++c) {
    double mean, invstd;
    if (training) {
      Lanes sum = {}, squares = {};
      for (int64_t i = 0; i < geo.n; ++i) add_values(x + row_offset(geo, i, c), geo.s, sum);
      mean = lanes_total(sum) / m;
      for (int64_t i = 0; i < geo.n; ++i) add_squares(x + row_offset(geo, i, c), geo.s, mean, squares);
      const double sq = lanes_total(squares);
      invstd = 1.0 / std::sqrt(sq / m + eps);
      if (rm) rm[c] = static_cast<T>((1.0 - momentum) * double(rm[c]) + momentum * mean);
      if (rv) rv[c] = static_cast<T>((1.0 - momentum) * double(rv[c]) + momentum * sq / (m - 1.0));
    } else {
      mean = double(rm[c]);
      invstd = 1.0 / std::sqrt(double(rv[c]) + eps);
    }
    sm[c] = static_cast<T>(mean);
    si[c] = static_cast<T>(invstd);
    const Centering<T> mu(mean);
    const T scale = static_cast<T>(invstd * (w ? double(w[c]) : 1.0)), shift = b ? b[c] : T(0);
    for (int64_t i = 0; i < geo.n; ++i) {
      const int64_t base = row_offset(geo, i, c);
      for (int64_t j = base; j < base + geo.s; ++j) out[j] = mu.centered(x[j]) * scale + shift;
    }
  }
}

template <class T>
void backward_typed(const Tensor& grad_out, const Tensor& x_t, const Tensor& weight, const Tensor& save_mean,
                    const Tensor& save_invstd, bool training, const Tensor& grad_x, const Tensor& grad_weight,
                    const Tensor& grad_bias) {
  const Geometry geo = geometry_of(x_t);
  const T *g = grad_out.data<T>(), *x = x_t.data<T>(), *w = maybe<T>(weight);
  const T *sm = save_mean.data<T>(), *si = save_invstd.data<T>();
  T *gx = maybe_mut<T>(grad_x), *gw = maybe_mut<T>(grad_weight), *gb = maybe_mut<T>(grad_bias);
  const bool need_sums = gw || gb || (gx && training);
  const double m = static_cast<double>(geo.count());
#pragma omp parallel for schedule(static) if (x_t.numel() > kParallelWork)
  for (int64_t c = 0; c < geo.c; ++c) {
    const double mean = double(sm[c]), invstd = double(si[c]);
    double sum_g = 0, sum_gc = 0;  // sum(g), sum(g (x - mean))
    if (need_sums) {
      Lanes lanes_g = {}, lanes_gc = {};
      for (int64_t i = 0; i < geo.n; ++i) {
        const int64_t o = row_offset(geo, i, c);
        add_grad_sums(g + o, x + o, geo.s, mean, lanes_g, lanes_gc);
      }
      sum_g = lanes_total(lanes_g), sum_gc = lanes_total(lanes_gc);
    }
    if (gb) gb[c] = static_cast<T>(sum_g);
    if (gw) gw[c] = static_cast<T>(sum_gc * invstd);
    if (!gx) continue;
    const double k = invstd * (w ? double(w[c]) : 1.0);
    const T scale = static_cast<T>(k);
    const Centering<T> mu(mean);
    // grad_x = k (g - mean(g) - (x - mean) invstd^2 sum(g (x - mean)) / M) in training.
    const T mean_g = static_cast<T>(training ? sum_g / m : 0.0);
    const T proj = static_cast<T>(training ? sum_gc * invstd * invstd / m : 0.0);
    for (int64_t i = 0; i < geo.n; ++i) {
      const int64_t base = row_offset(geo, i, c);
      for (int64_t j = base; j < base + geo.s; ++j)
        gx[j] = scale * (g[j] - mean_g - mu.centered(x[j]) * proj);
    }
  }
}

}  // namespace

void batch_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                        const Tensor& running_var, bool training, double momentum, double eps,
                        const Tensor& out, const Tensor& save_mean, const Tensor& save_invstd) {
  KILN_DISPATCH_FLOAT(x.dtype(), "batch_norm", [&] {
    forward_typed<scalar_t>(x, weight, bias, running_mean, running_var, training, momentum, eps, out,
                            save_mean, save_invstd);
  });
}

void batch_norm_backward(const Tensor& grad_out, const Tensor& x, const Tensor& weight,
                         const Tensor& save_mean, const Tensor& save_invstd, bool training,
                         const Tensor& grad_x, const Tensor& grad_weight, const Tensor& grad_bias) {
  KILN_DISPATCH_FLOAT(x.dtype(), "batch_norm_backward", [&] {
    backward_typed<scalar_t>(grad_out, x, weight, save_mean, save_invstd, training, grad_x, grad_weight,
                             grad_bias);
  });
}

}  // namespace kiln::cpu
