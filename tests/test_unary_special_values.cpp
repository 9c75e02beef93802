// Every vectorized unary kernel against <cmath> on IEEE special values (±inf, NaN, ±0, denormals, the
// extremes) placed at every position of a tensor long enough to fill whole vector blocks (16 f32 or 8
// f64 on AVX-512) and a scalar tail, so an answer can depend neither on the CPU's vector width nor on
// where the element sits. The reference is the C library's function of the same value, an independent
// implementation.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include <kiln/kiln.h>

using namespace kiln;

namespace {

template <class T>
std::vector<T> specials() {
  using L = std::numeric_limits<T>;
  return {
      L::infinity(), -L::infinity(), L::quiet_NaN(), T(0),      -T(0),   L::denorm_min(), -L::denorm_min(),
      L::min(),      -L::min(),      L::max(),       -L::max(), T(1),    T(-1),           T(0.5),
      T(-0.5),       T(30),          T(-30),         T(100),    T(-100), T(1e-30),        T(-1e-30),
      L::epsilon()};
}

// Equal as IEEE values: NaN matches only NaN, zeros match only the zero of the same sign, and others
// agree within a few units in the last place (vector approximations of exp or tanh differ from glibc's
// by an ulp or two; special values must match exactly).
template <class T>
bool same(T got, T want) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isnan(got)) return false;
  if (std::isinf(want) || want == 0) return got == want && std::signbit(got) == std::signbit(want);
  if (std::isinf(got)) return false;
  const T tol = T(8) * std::numeric_limits<T>::epsilon() * std::abs(want);
  return std::abs(got - want) <= std::max(tol, std::numeric_limits<T>::denorm_min());
}

struct Case {
  const char* name;
  std::function<Tensor(const Tensor&)> op;
  std::function<double(double)> ref;
};

std::vector<Case> cases() {
  return {
      {"neg", [](const Tensor& x) { return neg(x); }, [](double v) { return -v; }},
      {"abs", [](const Tensor& x) { return abs(x); }, [](double v) { return std::fabs(v); }},
      {"sqrt", [](const Tensor& x) { return sqrt(x); }, [](double v) { return std::sqrt(v); }},
      {"rsqrt", [](const Tensor& x) { return rsqrt(x); }, [](double v) { return 1.0 / std::sqrt(v); }},
      {"exp", [](const Tensor& x) { return exp(x); }, [](double v) { return std::exp(v); }},
      {"log", [](const Tensor& x) { return log(x); }, [](double v) { return std::log(v); }},
      {"log1p", [](const Tensor& x) { return log1p(x); }, [](double v) { return std::log1p(v); }},
      {"square", [](const Tensor& x) { return square(x); }, [](double v) { return v * v; }},
      {"tanh", [](const Tensor& x) { return tanh(x); }, [](double v) { return std::tanh(v); }},
      {"sigmoid", [](const Tensor& x) { return sigmoid(x); },
       [](double v) { return 1.0 / (1.0 + std::exp(-v)); }},
      // PyTorch's relu keeps NaN; the sign of a zero result is not specified (both compare equal).
      {"relu", [](const Tensor& x) { return relu(x); },
       [](double v) { return std::isnan(v) ? v
                             : v > 0       ? v
                                           : 0.0; }},
      {"reciprocal", [](const Tensor& x) { return reciprocal(x); }, [](double v) { return 1.0 / v; }},
      // PyTorch's definition, (0 < x) - (x < 0): 0 for NaN and +0 for -0.
      {"sign", [](const Tensor& x) { return sign(x); },
       [](double v) { return static_cast<double>((0 < v) - (v < 0)); }},
  };
}

template <class T>
void check_all(DType dtype) {
  const std::vector<T> sp = specials<T>();
  // 37 elements: two full AVX-512 f32 blocks plus a tail (four f64 blocks plus a tail).
  const int64_t n = 37;
  for (const Case& c : cases()) {
    for (T value : sp) {
      for (int64_t pos : {int64_t{0}, int64_t{5}, int64_t{15}, int64_t{31}, int64_t{36}}) {
        std::vector<T> v(n, T(0.25));
        v[pos] = value;
        Tensor x = from_vector(v);
        ASSERT_EQ(x.dtype(), dtype);
        const T got = c.op(x).template to_vector<T>()[pos];
        T want = static_cast<T>(c.ref(static_cast<double>(value)));
        // The reference runs in double; compute T's own rounding of single-precision functions.
        if constexpr (std::is_same_v<T, float>) {
          if (std::string(c.name) == "exp") want = std::exp(value);
          if (std::string(c.name) == "log") want = std::log(value);
          if (std::string(c.name) == "log1p") want = std::log1p(value);
          if (std::string(c.name) == "tanh") want = std::tanh(value);
          if (std::string(c.name) == "sqrt") want = std::sqrt(value);
          if (std::string(c.name) == "rsqrt") want = T(1) / std::sqrt(value);
          if (std::string(c.name) == "square") want = value * value;
          if (std::string(c.name) == "reciprocal") want = T(1) / value;
          if (std::string(c.name) == "sigmoid") want = T(1) / (T(1) + std::exp(-value));
        }
        if (std::string(c.name) == "relu" && want == 0 && got == 0) continue;
        EXPECT_TRUE(same(got, want)) << c.name << "(" << value << ") at position " << pos << " of " << n
                                     << " (" << dtype << "): got " << got << ", <cmath> gives " << want;
      }
    }
  }
}

}  // namespace

TEST(UnarySpecialValues, Float32MatchesCmathAtEveryPosition) { check_all<float>(DType::f32); }
TEST(UnarySpecialValues, Float64MatchesCmathAtEveryPosition) { check_all<double>(DType::f64); }
