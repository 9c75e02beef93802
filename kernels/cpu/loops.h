// kiln/kernels/cpu/loops.h: the strided elementwise loop every CPU elementwise kernel runs on.
// for_each_row walks N operands of one shape (byte strides, 0 where broadcast) as innermost rows, after
// merging dims that are contiguous in every operand, and splits the work into fixed-size tasks run by
// OpenMP. Task boundaries depend only on the shape, so results never depend on the thread count.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::cpu {

inline constexpr int64_t kGrain = 32768;  // elements per task; below this a loop runs serially

template <int N>
struct Operands {
  std::array<char*, N> base;
  std::array<Shape, N> byte_strides;
};

template <int N>
Operands<N> make_operands(const std::array<const Tensor*, N>& ts) {
  Operands<N> ops;
  for (int k = 0; k < N; ++k) {
    const Tensor& t = *ts[k];
    ops.base[k] = static_cast<char*>(t.data_ptr());
    ops.byte_strides[k] = t.strides();
    for (auto& s : ops.byte_strides[k]) s *= static_cast<int64_t>(dtype_size(t.dtype()));
  }
  return ops;
}

// Drops size-1 dims and merges neighbours that are contiguous in every operand.
template <int N>
void coalesce(Shape& shape, std::array<Shape, N>& strides) {
  Shape out_shape;
  std::array<Shape, N> out_strides;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = !out_shape.empty();
    for (int k = 0; k < N && merge; ++k) merge = out_strides[k].back() == strides[k][d] * shape[d];
    if (merge) {
      out_shape.back() *= shape[d];
      for (int k = 0; k < N; ++k) out_strides[k].back() = strides[k][d];
    } else {
      out_shape.push_back(shape[d]);
      for (int k = 0; k < N; ++k) out_strides[k].push_back(strides[k][d]);
    }
  }
  if (out_shape.empty()) {
    out_shape.push_back(1);
    for (int k = 0; k < N; ++k) out_strides[k].push_back(0);
  }
  shape = std::move(out_shape);
  strides = std::move(out_strides);
}

// row(ptrs, inner_byte_strides, n) is called for consecutive stretches of the innermost dim.
template <int N, class RowFn>
void for_each_row(const Shape& shape_in, Operands<N> ops, RowFn row) {
  Shape shape = shape_in;
  if (shape_numel(shape) == 0) return;
  coalesce<N>(shape, ops.byte_strides);
  const int nd = static_cast<int>(shape.size());
  const int64_t inner = shape[nd - 1];
  const int64_t outer = shape_numel(shape) / inner;
  const int64_t chunk = std::min<int64_t>(inner, kGrain);
  const int64_t chunks_per_row = (inner + chunk - 1) / chunk;
  const int64_t tasks = outer * chunks_per_row;
  std::array<int64_t, N> inner_strides;
  for (int k = 0; k < N; ++k) inner_strides[k] = ops.byte_strides[k][nd - 1];

  auto run_task = [&](int64_t task) {
    int64_t r = task / chunks_per_row, c = task % chunks_per_row;
    std::array<char*, N> p = ops.base;
    for (int d = nd - 2, rem = 0; d >= 0; --d) {
      (void)rem;
      int64_t i = r % shape[d];
      r /= shape[d];
      for (int k = 0; k < N; ++k) p[k] += i * ops.byte_strides[k][d];
    }
    int64_t start = c * chunk, n = std::min(chunk, inner - start);
    for (int k = 0; k < N; ++k) p[k] += start * inner_strides[k];
    row(p, inner_strides, n);
  };
  if (tasks * chunk <= kGrain || tasks == 1) {
    for (int64_t t = 0; t < tasks; ++t) run_task(t);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < tasks; ++t) run_task(t);
  }
}

}  // namespace kiln::cpu
