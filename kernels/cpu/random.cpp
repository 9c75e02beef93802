// CPU random draws from the Philox stream (tensor/random.h): element e uses block offset + e / 2 and
// words 2 * (e % 2), 2 * (e % 2) + 1 of it, so any backend reproduces the same values.
#include <cmath>

#include "kiln/kernels/cpu/cpu_kernels.h"
#include "kiln/tensor/random.h"

namespace kiln::cpu {
namespace {

template <class T>
void draw(RandomKernel k, T* out, int64_t n, uint64_t seed, uint64_t offset, double a, double b) {
#pragma omp parallel for schedule(static) if (n > 32768)
  for (int64_t blk = 0; blk < (n + 1) / 2; ++blk) {
    auto w = philox4x32(seed, offset + static_cast<uint64_t>(blk));
    for (int lane = 0; lane < 2 && 2 * blk + lane < n; ++lane) {
      uint32_t w0 = w[2 * lane], w1 = w[2 * lane + 1];
      double value = 0;
      switch (k) {
        case RandomKernel::uniform:
          if constexpr (std::is_same_v<T, float>) {
            // 24 random bits: exactly representable, strictly below 1.
            float u = static_cast<float>(w0 >> 8) * 0x1.0p-24f;
            out[2 * blk + lane] = static_cast<float>(a) + static_cast<float>(b - a) * u;
            if (out[2 * blk + lane] >= static_cast<float>(b) && b > a)
              out[2 * blk + lane] = std::nextafter(static_cast<float>(b), static_cast<float>(a));
            continue;
          } else {
            uint64_t bits = ((static_cast<uint64_t>(w0) << 32) | w1) >> 11;
            value = a + (b - a) * static_cast<double>(bits) * 0x1.0p-53;
          }
          break;
        case RandomKernel::normal: {
          double u1 = (static_cast<double>(w0) + 1.0) * 0x1.0p-32;  // (0, 1]: log is finite
          double u2 = static_cast<double>(w1) * 0x1.0p-32;
          value = a + b * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
          break;
        }
        case RandomKernel::bernoulli: {
          double u = static_cast<double>(((static_cast<uint64_t>(w0) << 32) | w1) >> 11) * 0x1.0p-53;
          value = u < a ? 1.0 : 0.0;
          break;
        }
        case RandomKernel::randint: {
          uint64_t range = static_cast<uint64_t>(b - a);
          value = a + static_cast<double>(((static_cast<uint64_t>(w0) << 32) | w1) % range);
          break;
        }
      }
      out[2 * blk + lane] = static_cast<T>(value);
    }
  }
}

}  // namespace

void random(RandomKernel k, const Tensor& out, uint64_t seed, uint64_t offset, double a, double b) {
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
