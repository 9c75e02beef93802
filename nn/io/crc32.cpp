// kiln/nn/io/crc32.cpp: CRC-32 by carry-less multiplication folding (crc32.h).
// The method: a message's CRC depends only on its polynomial modulo P (the CRC-32 polynomial). A 128-bit
// block A followed by D bits of data contributes A * x^D mod P, and x^D mod P is a 33-bit constant, so
// A's two 64-bit halves can be multiplied by two constants (PCLMULQDQ) into 128 bits that XOR onto the
// block D bits later, leaving the remainder unchanged. Four independent lanes fold 64 bytes per step;
// they merge into one 128-bit block, which, with the bytes left over, holds the message's remainder; zlib
// finishes those few bytes, so there is no hand-written final reduction to get wrong.
#include "kiln/nn/io/crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define KILN_CRC32_FOLDING 1
#endif

namespace kiln::nn::io::detail {

namespace {

// Below this the setup of a folding loop does not pay for itself.
constexpr size_t kMinFoldBytes = 256;

uint32_t crc32_zlib(const uint8_t* p, size_t n, uint32_t crc) {
  // crc32_z takes a size_t length; zlib's older crc32 takes a 32-bit one.
  return static_cast<uint32_t>(crc32_z(crc, p, n));
}

#ifdef KILN_CRC32_FOLDING

// The fold constants for a distance of D bits (facts of the polynomial 0x04C11DB7): the low qword, which
// multiplies a block's low half, is x^(D+32) mod P and the high qword x^(D-32) mod P, each bit-reflected
// over 32 bits and shifted left by one, as CRC-32 is computed bit-reflected.
// D = 512 +/- 32: folding a lane onto the same lane 64 bytes later.
constexpr long long kFold64Lo = 0x154442bd4, kFold64Hi = 0x1c6e41596;
// D = 128 +/- 32: folding a block onto the next one.
constexpr long long kFold16Lo = 0x1751997d0, kFold16Hi = 0x0ccaa009e;
// D = 1024 +/- 32 and 256 +/- 32: the same for the 256-bit lanes (two blocks each) of the wide loop.
constexpr long long kFold128Lo = 0x1e88ef372, kFold128Hi = 0x14a7fe880;
constexpr long long kFold32Lo = 0xf1da05aa, kFold32Hi = 0x15a546366;

__attribute__((target("pclmul,sse4.1"))) inline __m128i fold(__m128i block, __m128i k, __m128i onto) {
  const __m128i lo = _mm_clmulepi64_si128(block, k, 0x00);
  const __m128i hi = _mm_clmulepi64_si128(block, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), onto);
}

__attribute__((target("pclmul,sse4.1"))) inline __m128i load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

// Needs n >= 64.
__attribute__((target("pclmul,sse4.1"))) uint32_t crc32_folding(const uint8_t* p, size_t n, uint32_t crc) {
  // zlib's CRC starts from the complement of `crc`; XORed into the first four bytes it becomes part of the
  // message, and the register then starts from zero.
  __m128i x0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128(static_cast<int>(~crc)));
  __m128i x1 = load(p + 16), x2 = load(p + 32), x3 = load(p + 48);
  p += 64, n -= 64;
  const __m128i k64 = _mm_set_epi64x(kFold64Hi, kFold64Lo);
  for (; n >= 64; p += 64, n -= 64) {
    x0 = fold(x0, k64, load(p));
    x1 = fold(x1, k64, load(p + 16));
    x2 = fold(x2, k64, load(p + 32));
    x3 = fold(x3, k64, load(p + 48));
  }
  const __m128i k16 = _mm_set_epi64x(kFold16Hi, kFold16Lo);
  __m128i x = fold(fold(fold(x0, k16, x1), k16, x2), k16, x3);
  for (; n >= 16; p += 16, n -= 16) x = fold(x, k16, load(p));
  alignas(16) uint8_t rest[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(rest), x);
  // The register starts from zero here, which zlib spells as a starting CRC of all ones.
  return crc32_zlib(p, n, crc32_zlib(rest, sizeof rest, 0xffffffffu));
}

#define KILN_WIDE_TARGET __attribute__((target("avx2,vpclmulqdq,pclmul,sse4.1")))

KILN_WIDE_TARGET inline __m256i fold(__m256i lane, __m256i k, __m256i onto) {
  const __m256i lo = _mm256_clmulepi64_epi128(lane, k, 0x00);
  const __m256i hi = _mm256_clmulepi64_epi128(lane, k, 0x11);
  return _mm256_xor_si256(_mm256_xor_si256(lo, hi), onto);
}

KILN_WIDE_TARGET inline __m256i load_wide(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// The same folding with 256-bit carry-less multiplies (two blocks per instruction): 128 bytes per step,
// then the four lanes merge into one and its two blocks into the 16 bytes the narrow loop continues
// from. Needs n >= 128.
KILN_WIDE_TARGET uint32_t crc32_folding_wide(const uint8_t* p, size_t n, uint32_t crc) {
  __m256i y0 =
      _mm256_xor_si256(load_wide(p), _mm256_zextsi128_si256(_mm_cvtsi32_si128(static_cast<int>(~crc))));
  __m256i y1 = load_wide(p + 32), y2 = load_wide(p + 64), y3 = load_wide(p + 96);
  p += 128, n -= 128;
  const __m256i k128 = _mm256_broadcastsi128_si256(_mm_set_epi64x(kFold128Hi, kFold128Lo));
  for (; n >= 128; p += 128, n -= 128) {
    y0 = fold(y0, k128, load_wide(p));
    y1 = fold(y1, k128, load_wide(p + 32));
    y2 = fold(y2, k128, load_wide(p + 64));
    y3 = fold(y3, k128, load_wide(p + 96));
  }
  const __m256i k32 = _mm256_broadcastsi128_si256(_mm_set_epi64x(kFold32Hi, kFold32Lo));
  const __m256i y = fold(fold(fold(y0, k32, y1), k32, y2), k32, y3);
  const __m128i k16 = _mm_set_epi64x(kFold16Hi, kFold16Lo);
  __m128i x = fold(_mm256_castsi256_si128(y), k16, _mm256_extracti128_si256(y, 1));
  for (; n >= 16; p += 16, n -= 16) x = fold(x, k16, load(p));
  alignas(16) uint8_t rest[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(rest), x);
  return crc32_zlib(p, n, crc32_zlib(rest, sizeof rest, 0xffffffffu));
}

bool has_narrow() { return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1"); }
bool has_wide() {
  return has_narrow() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("vpclmulqdq");
}

#endif

}  // namespace

bool crc32_available(Crc32Method method) {
  switch (method) {
    case Crc32Method::kZlib:
      return true;
#ifdef KILN_CRC32_FOLDING
    case Crc32Method::kFolding128:
      return has_narrow();
    case Crc32Method::kFolding256:
      return has_wide();
#else
    default:
      return false;
#endif
  }
  return false;
}

uint32_t crc32_by(Crc32Method method, const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
#ifdef KILN_CRC32_FOLDING
  // The folding loops need a few blocks to start from; shorter data is zlib's.
  if (method == Crc32Method::kFolding256 && n >= 128) return crc32_folding_wide(p, n, crc);
  if (method == Crc32Method::kFolding128 && n >= 64) return crc32_folding(p, n, crc);
#endif
  (void)method;
  return crc32_zlib(p, n, crc);
}

uint32_t crc32_of(const void* data, size_t n, uint32_t crc) {
  static const Crc32Method fastest = crc32_available(Crc32Method::kFolding256)   ? Crc32Method::kFolding256
                                     : crc32_available(Crc32Method::kFolding128) ? Crc32Method::kFolding128
                                                                                 : Crc32Method::kZlib;
  return crc32_by(n >= kMinFoldBytes ? fastest : Crc32Method::kZlib, data, n, crc);
}

}  // namespace kiln::nn::io::detail
