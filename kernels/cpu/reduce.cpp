// CPU reductions over the middle axis of a contiguous (O, R, I) view. Work is split into tasks by
// shape alone (never by thread count), and each output element is reduced in a fixed order, so sums are
// bit-identical whatever the number of threads.
#include <Eigen/Core>
#include <cmath>
#include <limits>
#include <vector>

#include "kiln/kernels/cpu/cpu_kernels.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kChunk = 8192;  // elements per partial sum of a long row

template <class T>
T row_sum(const T* p, int64_t n) {
  if constexpr (std::is_floating_point_v<T>) {
    return Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(p, n).sum();
  } else {
    T s = 0;
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
  }
}

// Sum of one long contiguous row: fixed chunks in parallel, partials added in order.
template <class T>
T long_row_sum(const T* p, int64_t n) {
  int64_t chunks = (n + kChunk - 1) / kChunk;
  if (chunks <= 1) return row_sum(p, n);
  std::vector<T> partial(chunks);
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < chunks; ++c) partial[c] = row_sum(p + c * kChunk, std::min(kChunk, n - c * kChunk));
  T s = 0;
  for (T v : partial) s += v;
  return s;
}

template <class T>
bool better(ReduceKernel k, T candidate, T best) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(best)) return false;  // NaN wins and stays (PyTorch propagates NaN)
    if (std::isnan(candidate)) return true;
  }
  return (k == ReduceKernel::max || k == ReduceKernel::argmax) ? candidate > best : candidate < best;
}

template <class T>
void reduce_typed(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices) {
  const int64_t O = in.size(0), R = in.size(1), I = in.size(2);
  const T* x = static_cast<const T*>(in.data_ptr());
  const bool want_index = indices.defined();
  int64_t* idx = want_index ? indices.data<int64_t>() : nullptr;
  const bool is_arg = k == ReduceKernel::argmax || k == ReduceKernel::argmin;
  T* o = is_arg ? nullptr : static_cast<T*>(out.data_ptr());
  if (is_arg) idx = out.data<int64_t>();

  if (k == ReduceKernel::sum) {
    if (I == 1) {
      if (O == 1) {
        o[0] = long_row_sum(x, R);
        return;
      }
#pragma omp parallel for schedule(static) if (O * R > kChunk)
      for (int64_t r = 0; r < O; ++r) o[r] = row_sum(x + r * R, R);
      return;
    }
    // Columns: accumulate rows of length I; tasks are (o, block of I).
    const int64_t block = 256, blocks = (I + block - 1) / block;
#pragma omp parallel for schedule(static) if (O * R * I > kChunk)
    for (int64_t t = 0; t < O * blocks; ++t) {
      int64_t oo = t / blocks, i0 = (t % blocks) * block, n = std::min(block, I - i0);
      T* dst = o + oo * I + i0;
      for (int64_t i = 0; i < n; ++i) dst[i] = 0;
      for (int64_t r = 0; r < R; ++r) {
        const T* src = x + (oo * R + r) * I + i0;
        for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
      }
    }
    return;
  }

  // max/min/argmax/argmin: the first extreme index wins ties.
#pragma omp parallel for schedule(static) if (O * R * I > kChunk)
  for (int64_t t = 0; t < O * I; ++t) {
    int64_t oo = t / I, i = t % I;
    const T* base = x + oo * R * I + i;
    T best = base[0];
    int64_t best_r = 0;
    for (int64_t r = 1; r < R; ++r) {
      T v = base[r * I];
      if (better(k, v, best)) best = v, best_r = r;
    }
    if (o) o[t] = best;
    if (idx) idx[t] = best_r;
  }
}

}  // namespace

void native::reduce(ReduceKernel k, const Tensor& in, const Tensor& out, const Tensor& indices) {
  KILN_ASSERT(in.dim() == 3 && in.is_contiguous(), "reduce kernel expects a contiguous (O, R, I) view");
  KILN_DISPATCH_ALL(in.dtype(), kernel_name(k), [&] { reduce_typed<scalar_t>(k, in, out, indices); });
}

}  // namespace kiln::cpu
