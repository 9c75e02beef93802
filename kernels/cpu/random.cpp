// CPU random draws from the Philox stream (tensor/random.h): element e uses block offset + e / 2 and
// words 2 * (e % 2), 2 * (e % 2) + 1 of it, so any backend reproduces the same values.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/tensor/random.h"

namespace kiln::cpu {
namespace {

constexpr uint32_t kMul0 = 0xD2511F53u, kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u, kWeyl1 = 0xBB67AE85u;
constexpr int kLanes = 16;  // Philox blocks computed side by side (32 elements)

// Eight 32-bit words held in 64-bit lanes, so the 32x32->64 multiplies of a Philox round are plain vector
// multiplies (GCC vector extensions: portable, and one instruction per round step with AVX-512 or AVX2).
typedef uint64_t u64x8 __attribute__((vector_size(64)));

// Philox-4x32-10 for counters first .. first + kLanes - 1: the same function as kiln::philox4x32, computed
// for 16 counters at once. Dropout draws a mask every training step, so this is on the hot path.
void philox_lanes(uint64_t seed, uint64_t first, uint32_t (&w)[4][kLanes]) {
  constexpr uint64_t kLow = 0xFFFFFFFFu;
  for (int half = 0; half < kLanes / 8; ++half) {
    u64x8 c0, c1, c2 = {}, c3 = {};
    for (int l = 0; l < 8; ++l) {
      uint64_t counter = first + static_cast<uint64_t>(half * 8 + l);
      c0[l] = counter & kLow, c1[l] = counter >> 32;
    }
    uint64_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
    for (int round = 0; round < 10; ++round) {
      u64x8 p0 = c0 * kMul0, p1 = c2 * kMul1;
      u64x8 n0 = ((p1 >> 32) ^ c1 ^ k0) & kLow, n2 = ((p0 >> 32) ^ c3 ^ k1) & kLow;
      c1 = p1 & kLow, c3 = p0 & kLow, c0 = n0, c2 = n2;
      k0 = (k0 + kWeyl0) & kLow, k1 = (k1 + kWeyl1) & kLow;
    }
    for (int l = 0; l < 8; ++l) {
      const int lane = half * 8 + l;
      w[0][lane] = static_cast<uint32_t>(c0[l]), w[1][lane] = static_cast<uint32_t>(c1[l]);
      w[2][lane] = static_cast<uint32_t>(c2[l]), w[3][lane] = static_cast<uint32_t>(c3[l]);
    }
  }
}

// Element e's value from its two words (w0, w1): block e / 2, words 2 * (e % 2) and 2 * (e % 2) + 1.
template <RandomKernel K, class T>
inline T transform(uint32_t w0, uint32_t w1, double a, double b) {
  if constexpr (K == RandomKernel::uniform) {
    if constexpr (std::is_same_v<T, float>) {
      // 24 random bits: exactly representable, strictly below 1.
      float u = static_cast<float>(w0 >> 8) * 0x1.0p-24f;
      float v = static_cast<float>(a) + static_cast<float>(b - a) * u;
      if (v >= static_cast<float>(b) && b > a)
        v = std::nextafter(static_cast<float>(b), static_cast<float>(a));
      return v;
    } else {
      uint64_t bits = ((static_cast<uint64_t>(w0) << 32) | w1) >> 11;
      return static_cast<T>(a + (b - a) * static_cast<double>(bits) * 0x1.0p-53);
    }
  } else if constexpr (K == RandomKernel::normal) {
    double u1 = (static_cast<double>(w0) + 1.0) * 0x1.0p-32;  // (0, 1]: log is finite
    double u2 = static_cast<double>(w1) * 0x1.0p-32;
    return static_cast<T>(a + b * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
  } else if constexpr (K == RandomKernel::bernoulli) {
    double u = static_cast<double>(((static_cast<uint64_t>(w0) << 32) | w1) >> 11) * 0x1.0p-53;
    return static_cast<T>(u < a ? 1.0 : 0.0);
  } else {
    uint64_t range = static_cast<uint64_t>(b - a);
    return static_cast<T>(a + static_cast<double>(((static_cast<uint64_t>(w0) << 32) | w1) % range));
  }
}

template <RandomKernel K, class T>
void draw_kind(T* out, int64_t n, uint64_t seed, uint64_t offset, double a, double b) {
  const int64_t blocks = (n + 1) / 2, groups = (blocks + kLanes - 1) / kLanes;
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t grp = 0; grp < groups; ++grp) {
    uint32_t w[4][kLanes];
    philox_lanes(seed, offset + static_cast<uint64_t>(grp * kLanes), w);
    const int64_t first = grp * kLanes * 2;
    const int64_t count = std::min<int64_t>(2 * kLanes, n - first);
    for (int64_t i = 0; i < count; ++i) {
      const int l = static_cast<int>(i / 2), word = 2 * static_cast<int>(i % 2);
      out[first + i] = transform<K, T>(w[word][l], w[word + 1][l], a, b);
    }
  }
}

template <class T>
void draw(RandomKernel k, T* out, int64_t n, uint64_t seed, uint64_t offset, double a, double b) {
  switch (k) {
    case RandomKernel::uniform:
      return draw_kind<RandomKernel::uniform>(out, n, seed, offset, a, b);
    case RandomKernel::normal:
      return draw_kind<RandomKernel::normal>(out, n, seed, offset, a, b);
    case RandomKernel::bernoulli:
      return draw_kind<RandomKernel::bernoulli>(out, n, seed, offset, a, b);
    case RandomKernel::randint:
      return draw_kind<RandomKernel::randint>(out, n, seed, offset, a, b);
  }
}

}  // namespace

void native::random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b) {
  KILN_ASSERT(out.is_contiguous(), "random kernel expects a contiguous output");
  switch (out.dtype()) {
    case DType::f32:
      return draw(k, out.data<float>(), out.numel(), seed, offset, a, b);
    case DType::f64:
      return draw(k, out.data<double>(), out.numel(), seed, offset, a, b);
    case DType::i64:
      return draw(k, out.data<int64_t>(), out.numel(), seed, offset, a, b);
    case DType::i32:
      return draw(k, out.data<int32_t>(), out.numel(), seed, offset, a, b);
    case DType::u8:
      return draw(k, out.data<uint8_t>(), out.numel(), seed, offset, a, b);
    default:
      KILN_ASSERT(false, "random kernel called for ", out.dtype());
  }
}

}  // namespace kiln::cpu
