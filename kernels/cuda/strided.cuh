// kiln/kernels/cuda/strided.cuh: the grid-stride elementwise loop every CUDA elementwise kernel runs on.
// The host merges dims that are contiguous in every operand (so dense operands become one flat dim and
// take the fast path: element i is at offset i), then each thread maps linear indices to per-operand
// element offsets. Depends on cuda_kernels.h.
#pragma once

#include <algorithm>

#include "kiln/kernels/cuda/cuda_kernels.h"

namespace kiln::cuda {

// A device tensor's data as T (read-only / writable), for kernel arguments.
template <class T>
const T* cptr(const Tensor& t) {
  return static_cast<const T*>(t.data_ptr());
}
template <class T>
T* mptr(const Tensor& t) {
  return static_cast<T*>(t.data_ptr());
}

// Describes N operands of one shape (strides 0 where broadcast) after merging contiguous dims.
template <int N>
Strided<N> make_strided(const Shape& shape, const std::array<const Tensor*, N>& ts, const char* op) {
  Strided<N> s;
  s.numel = shape_numel(shape);
  for (int k = 0; k < N; ++k) s.data[k] = static_cast<char*>(ts[k]->data_ptr());
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = s.nd > 0;
    for (int k = 0; k < N && merge; ++k) merge = s.strides[k][s.nd - 1] == ts[k]->strides()[d] * shape[d];
    if (merge) {
      s.shape[s.nd - 1] *= shape[d];
      for (int k = 0; k < N; ++k) s.strides[k][s.nd - 1] = ts[k]->strides()[d];
      continue;
    }
    KILN_CHECK(s.nd < kMaxDims, op, " on CUDA: more than ", kMaxDims, " non-mergeable dims (shape with ",
               shape.size(), " dims); call contiguous() first");
    s.shape[s.nd] = shape[d];
    for (int k = 0; k < N; ++k) s.strides[k][s.nd] = ts[k]->strides()[d];
    ++s.nd;
  }
  s.contiguous = s.nd == 0;
  if (s.nd == 1) {
    s.contiguous = true;
    for (int k = 0; k < N; ++k) s.contiguous = s.contiguous && s.strides[k][0] == 1;
  }
  return s;
}

template <int N, class F>
__global__ void elementwise_kernel(Strided<N> s, F f) {
  const int64_t step = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < s.numel; i += step) {
    int64_t off[N];
    if (s.contiguous) {
      for (int k = 0; k < N; ++k) off[k] = i;
    } else {
      for (int k = 0; k < N; ++k) off[k] = 0;
      int64_t rem = i;
      for (int d = s.nd - 1; d >= 0; --d) {
        const int64_t c = rem % s.shape[d];
        rem /= s.shape[d];
        for (int k = 0; k < N; ++k) off[k] += c * s.strides[k][d];
      }
    }
    f(off);
  }
}

inline constexpr int kThreads = 256;
inline int64_t grid_for(int64_t n) { return std::clamp<int64_t>((n + kThreads - 1) / kThreads, 1, 1 << 20); }

// Runs f(offsets) for every element on device `dev`'s stream.
template <int N, class F>
void launch_elementwise(const char* op, int dev, const Strided<N>& s, const F& f) {
  if (s.numel == 0) return;
  DeviceGuard guard(dev);
  elementwise_kernel<N, F><<<grid_for(s.numel), kThreads, 0, stream(dev)>>>(s, f);
  KILN_CUDA_CHECK_LAUNCH(op);
}

}  // namespace kiln::cuda
