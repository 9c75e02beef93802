// kiln/kernels/cuda/half.cuh: f16/bf16 on the device. kiln::Half / kiln::BFloat16 (tensor/half.h) are the
// storage types in device memory too; kernels load them into their compute type (compute_t: float for f16
// and bf16, the type itself otherwise), compute there, and round once on store, with the hardware conversions
// (round to nearest even, the same results as the host's). Depends on cuda_fp16.h, cuda_bf16.h, tensor/.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "kiln/kernels/shared/compute_type.h"
#include "kiln/tensor/dtype.h"

namespace kiln::cuda {

// T -> its compute type (exact).
template <class T>
__device__ __forceinline__ compute_t<T> to_compute(T x) {
  if constexpr (std::is_same_v<T, Half>) {
    return __half2float(__ushort_as_half(x.bits));
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return __bfloat162float(__ushort_as_bfloat16(x.bits));
  } else {
    return x;
  }
}

// Compute type -> T, rounding to nearest even for f16/bf16 (NaN stays NaN, overflow gives inf).
template <class T>
__device__ __forceinline__ T from_compute(compute_t<T> v) {
  if constexpr (std::is_same_v<T, Half>) {
    return Half::from_bits(__half_as_ushort(__float2half_rn(v)));
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return BFloat16::from_bits(__bfloat16_as_ushort(__float2bfloat16_rn(v)));
  } else {
    return v;
  }
}

// Any arithmetic value (or Half/BFloat16) -> D, as the CPU's copy converts: through float for f16/bf16,
// v != 0 for bool.
template <class D, class S>
__device__ __forceinline__ D convert_value(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;  // a strided same-dtype copy moves the bits (NaN payloads included)
  } else if constexpr (is_reduced_v<S>) {
    return convert_value<D>(to_compute(v));
  } else if constexpr (std::is_same_v<D, bool>) {
    return v != S(0);
  } else if constexpr (is_reduced_v<D>) {
    return from_compute<D>(static_cast<float>(v));
  } else {
    return static_cast<D>(v);
  }
}

}  // namespace kiln::cuda

// The floating dtypes a kernel written on T with compute_t<T> takes: f32, f64, f16, bf16 (scalar_t as in
// KILN_DISPATCH_FLOAT); anything else is the op's "unsupported dtype" error.
#define KILN_DISPATCH_FLOAT_WITH_HALF(t, NAME, ...)       \
  [&] {                                                   \
    switch (t) {                                          \
      case ::kiln::DType::f16: {                          \
        using scalar_t = ::kiln::Half;                    \
        return __VA_ARGS__();                             \
      }                                                   \
      case ::kiln::DType::bf16: {                         \
        using scalar_t = ::kiln::BFloat16;                \
        return __VA_ARGS__();                             \
      }                                                   \
      default:                                            \
        return KILN_DISPATCH_FLOAT(t, NAME, __VA_ARGS__); \
    }                                                     \
  }()
