// kiln/kernels/shared/compute_type.h: the type a kernel computes an element type in. f16 and bf16 are
// storage types: both backends load them into float, compute there and round once on store; every other
// type computes in itself. Depends on tensor/dtype.h and tensor/half.h.
#pragma once

#include <type_traits>

#include "kiln/tensor/dtype.h"
#include "kiln/tensor/half.h"

namespace kiln {

template <class T>
inline constexpr bool is_reduced_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;

template <class T>
using compute_t = std::conditional_t<is_reduced_v<T>, float, T>;

// The same rule on dtypes: the dtype whose kernel an f16/bf16 operand runs through.
constexpr DType compute_dtype(DType t) { return is_reduced_float(t) ? DType::f32 : t; }
constexpr bool is_f32_or_f64(DType t) { return t == DType::f32 || t == DType::f64; }

}  // namespace kiln
