// kiln/tensor/dtype.h: element types and their sizes, names and C++ mappings.
// f16/bf16 are stored as kiln::Half / kiln::BFloat16 (half.h); kernels compute them in float. Depends on
// half.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string_view>

#include "kiln/tensor/half.h"

namespace kiln {

enum class DType : uint8_t { f32, f64, i64, i32, u8, boolean, f16, bf16 };

constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32:
    case DType::i32:
      return 4;
    case DType::f64:
    case DType::i64:
      return 8;
    case DType::u8:
    case DType::boolean:
      return 1;
    case DType::f16:
    case DType::bf16:
      return 2;
  }
  return 0;
}
constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::f16 || t == DType::bf16;
}
constexpr bool is_integral(DType t) { return !is_floating(t); }
std::string_view dtype_name(DType t);
std::ostream& operator<<(std::ostream& os, DType t);

// The dtype of a C++ element type: dtype_of<float> == DType::f32.
template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::f32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::f64;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::i64;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::i32;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::u8;
};
template <>
struct DTypeOf<bool> {
  static constexpr DType value = DType::boolean;
};
template <>
struct DTypeOf<Half> {
  static constexpr DType value = DType::f16;
};
template <>
struct DTypeOf<BFloat16> {
  static constexpr DType value = DType::bf16;
};
template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

// Calls f(T{}) with T the element type of `t`, for the dtypes with native C++ arithmetic (compute kernels);
// throws kiln::Error for f16/bf16. KILN_DISPATCH_WITH_HALF adds Half and BFloat16, for code that only
// moves or converts elements (copy, fill, element access, selection).
#define KILN_DISPATCH_ALL(t, NAME, ...)             \
  [&] {                                             \
    switch (t) {                                    \
      case ::kiln::DType::f32: {                    \
        using scalar_t = float;                     \
        return __VA_ARGS__();                       \
      }                                             \
      case ::kiln::DType::f64: {                    \
        using scalar_t = double;                    \
        return __VA_ARGS__();                       \
      }                                             \
      case ::kiln::DType::i64: {                    \
        using scalar_t = int64_t;                   \
        return __VA_ARGS__();                       \
      }                                             \
      case ::kiln::DType::i32: {                    \
        using scalar_t = int32_t;                   \
        return __VA_ARGS__();                       \
      }                                             \
      case ::kiln::DType::u8: {                     \
        using scalar_t = uint8_t;                   \
        return __VA_ARGS__();                       \
      }                                             \
      case ::kiln::DType::boolean: {                \
        using scalar_t = bool;                      \
        return __VA_ARGS__();                       \
      }                                             \
      default:                                      \
        ::kiln::detail::unsupported_dtype(NAME, t); \
    }                                               \
  }()

#define KILN_DISPATCH_FLOAT(t, NAME, ...)           \
  [&] {                                             \
    switch (t) {                                    \
      case ::kiln::DType::f32: {                    \
        using scalar_t = float;                     \
        return __VA_ARGS__();                       \
      }                                             \
      case ::kiln::DType::f64: {                    \
        using scalar_t = double;                    \
        return __VA_ARGS__();                       \
      }                                             \
      default:                                      \
        ::kiln::detail::unsupported_dtype(NAME, t); \
    }                                               \
  }()

#define KILN_DISPATCH_WITH_HALF(t, NAME, ...)           \
  [&] {                                                 \
    switch (t) {                                        \
      case ::kiln::DType::f16: {                        \
        using scalar_t = ::kiln::Half;                  \
        return __VA_ARGS__();                           \
      }                                                 \
      case ::kiln::DType::bf16: {                       \
        using scalar_t = ::kiln::BFloat16;              \
        return __VA_ARGS__();                           \
      }                                                 \
      default:                                          \
        return KILN_DISPATCH_ALL(t, NAME, __VA_ARGS__); \
    }                                                   \
  }()

// f16 and bf16: the reduced-precision floating dtypes (computed in float).
constexpr bool is_reduced_float(DType t) { return t == DType::f16 || t == DType::bf16; }

namespace detail {
[[noreturn]] void unsupported_dtype(std::string_view op, DType t);
}

}  // namespace kiln
