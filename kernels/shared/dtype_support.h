// kiln/kernels/shared/dtype_support.h: which dtypes the kernels take, the rule both backends follow.
// KILN_BACKEND_TABLE fills each support query of a table with supports_<family> as found from the
// backend's namespace: these (namespace kiln) unless the backend defines its own. f16/bf16 compute in
// f32 (compute_type.h), so they take whatever f32 takes, except where a family says otherwise.
// Depends on tensor/backend.h and compute_type.h.
#pragma once

#include "kiln/kernels/shared/compute_type.h"
#include "kiln/tensor/backend.h"

namespace kiln {

inline bool supports_unary(UnaryKernel k, DType t) {
  t = compute_dtype(t);
  switch (k) {
    case UnaryKernel::neg:
    case UnaryKernel::abs:
    case UnaryKernel::sign:
    case UnaryKernel::square:
    case UnaryKernel::relu:
      return is_f32_or_f64(t) || t == DType::i64 || t == DType::i32;
    case UnaryKernel::logical_not:
      return t == DType::boolean;
    default:
      return is_f32_or_f64(t);
  }
}

inline bool supports_binary(BinaryKernel k, DType t) {
  t = compute_dtype(t);
  const bool numeric = is_f32_or_f64(t) || t == DType::i64 || t == DType::i32 || t == DType::u8;
  if (k == BinaryKernel::pow) return is_f32_or_f64(t);
  if (k == BinaryKernel::logical_and || k == BinaryKernel::logical_or) return t == DType::boolean;
  if (writes_bool(k)) return numeric || t == DType::boolean;
  return numeric;
}

// Every dtype: sums of integers stay integers, and f16/bf16 sums accumulate in f32.
inline bool supports_reduce(ReduceKernel, DType) { return true; }

// Integer draws fill integer and floating dtypes, but not bool or f16/bf16; the distributions, floating.
inline bool supports_random(RandomKernel k, DType t) {
  if (k == RandomKernel::randint) return t != DType::boolean && !is_reduced_float(t);
  return is_f32_or_f64(compute_dtype(t));
}

inline bool supports_gemm(GemmKernel, DType t) { return is_f32_or_f64(compute_dtype(t)); }
inline bool supports_conv(ConvKernel, DType t) { return is_f32_or_f64(compute_dtype(t)); }

// f32/f64 kernels only: for f16/bf16 the ops take their composite path, which runs on the kernels above.
inline bool supports_fused(FusedKernel, DType t) { return is_f32_or_f64(t); }
inline bool supports_batch_norm(BatchNormKernel, DType t) { return is_f32_or_f64(t); }

}  // namespace kiln
