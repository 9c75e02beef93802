// kiln/tensor/half.h: the 16-bit floating storage types, kiln::Half (IEEE binary16: 1 sign, 5 exponent,
// 10 mantissa bits) and kiln::BFloat16 (the top half of a binary32: 1 sign, 8 exponent, 7 mantissa bits).
// They are storage, not arithmetic: kernels convert to float, compute there, and round once on store.
// float -> 16 bit rounds to nearest, ties to even, overflows to infinity, keeps the sign of zero and keeps
// NaN a (quiet) NaN; 16 bit -> float is exact. Header-only, trivially copyable, usable from .cu files (the
// CUDA kernels convert with the hardware intrinsics instead; see kernels/cuda/half.cuh). Depends on nothing.
#pragma once

#include <bit>
#include <cstdint>

#ifdef __CUDACC__
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HOST_DEVICE
#endif

namespace kiln {
namespace detail {

// Rounds the low `shift` bits off q (round to nearest, ties to even).
constexpr uint32_t round_shift_rne(uint32_t q, uint32_t shift) {
  const uint32_t kept = q >> shift, rest = q & ((1u << shift) - 1), half = 1u << (shift - 1);
  return kept + ((rest > half || (rest == half && (kept & 1u))) ? 1u : 0u);
}

constexpr uint16_t float_to_half_bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));  // NaN
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 (and inf): inf
  if (ax >= 0x38800000u) {  // a normal half (>= 2^-14): rebias the exponent, round the mantissa
    const uint32_t rebiased = ax - (static_cast<uint32_t>(127 - 15) << 23);
    return static_cast<uint16_t>(sign | round_shift_rne(rebiased, 13));  // a carry bumps the exponent
  }
  if (ax <= 0x33000000u) return static_cast<uint16_t>(sign);  // <= 2^-25: the tie at 2^-25 goes to 0
  // A subnormal half counts units of 2^-24: value = m 2^(e - 150) = (m >> (126 - e)) units.
  const uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
  return static_cast<uint16_t>(sign | round_shift_rne(m, 126 - e));  // may round up to 2^-14 (normal)
}

constexpr float half_bits_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (m << 13));  // inf, NaN (payload kept)
  if (e == 0) {
    const float v = static_cast<float>(m) * 0x1p-24f;  // exact: m < 2^10
    return sign ? -v : v;
  }
  return std::bit_cast<float>(sign | ((e + 127 - 15) << 23) | (m << 13));
}

constexpr uint16_t float_to_bfloat16_bits(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  return static_cast<uint16_t>(round_shift_rne(x, 16));  // a carry into the exponent rounds up to inf
}

constexpr float bfloat16_bits_to_float(uint16_t b) {
  return std::bit_cast<float>(static_cast<uint32_t>(b) << 16);
}

}  // namespace detail

struct Half {
  uint16_t bits = 0;
  Half() = default;
  KILN_HOST_DEVICE explicit constexpr Half(float f) : bits(detail::float_to_half_bits(f)) {}
  KILN_HOST_DEVICE static constexpr Half from_bits(uint16_t b) {
    Half h;
    h.bits = b;
    return h;
  }
  KILN_HOST_DEVICE constexpr operator float() const { return detail::half_bits_to_float(bits); }
};

struct BFloat16 {
  uint16_t bits = 0;
  BFloat16() = default;
  KILN_HOST_DEVICE explicit constexpr BFloat16(float f) : bits(detail::float_to_bfloat16_bits(f)) {}
  KILN_HOST_DEVICE static constexpr BFloat16 from_bits(uint16_t b) {
    BFloat16 h;
    h.bits = b;
    return h;
  }
  KILN_HOST_DEVICE constexpr operator float() const { return detail::bfloat16_bits_to_float(bits); }
};

static_assert(sizeof(Half) == 2 && sizeof(BFloat16) == 2);

}  // namespace kiln
