// nn/init.cpp: the initializers of init.h. Depends on tensor (in-place fills from the default generator)
// and autograd (NoGradGuard).
#include "kiln/nn/init.h"

#include <cmath>
#include <vector>

#include "kiln/autograd/node.h"
#include "kiln/tensor/error.h"

namespace kiln::nn::init {

double calculate_gain(const std::string& nonlinearity, double param) {
  if (nonlinearity == "linear" || nonlinearity == "sigmoid" || nonlinearity.rfind("conv", 0) == 0) return 1.0;
  if (nonlinearity == "tanh") return 5.0 / 3.0;
  if (nonlinearity == "relu") return std::sqrt(2.0);
  if (nonlinearity == "leaky_relu") return std::sqrt(2.0 / (1.0 + param * param));
  if (nonlinearity == "selu") return 3.0 / 4.0;
  KILN_CHECK(false, "calculate_gain: unknown nonlinearity '", nonlinearity,
             "' (linear, conv1d, conv2d, sigmoid, tanh, relu, leaky_relu, selu)");
  return 0.0;
}

std::pair<int64_t, int64_t> calculate_fan_in_and_fan_out(const Tensor& t) {
  KILN_CHECK(t.dim() >= 2, "init: fan in and fan out need a tensor with at least 2 dims, got shape ",
             shape_str(t.shape()));
  int64_t receptive = 1;
  for (int64_t d = 2; d < t.dim(); ++d) receptive *= t.size(d);
  return {t.size(1) * receptive, t.size(0) * receptive};
}

Tensor& uniform_(Tensor& t, double low, double high) {
  autograd::NoGradGuard g;
  t.uniform_(low, high);
  return t;
}
Tensor& normal_(Tensor& t, double mean, double std) {
  autograd::NoGradGuard g;
  t.normal_(mean, std);
  return t;
}
Tensor& constant_(Tensor& t, double value) {
  autograd::NoGradGuard g;
  t.fill_(value);
  return t;
}
Tensor& zeros_(Tensor& t) { return constant_(t, 0.0); }
Tensor& ones_(Tensor& t) { return constant_(t, 1.0); }

Tensor& xavier_uniform_(Tensor& t, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  double bound = gain * std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
  return uniform_(t, -bound, bound);
}
Tensor& xavier_normal_(Tensor& t, double gain) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  return normal_(t, 0.0, gain * std::sqrt(2.0 / static_cast<double>(fan_in + fan_out)));
}

namespace {
double kaiming_std(const Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  auto [fan_in, fan_out] = calculate_fan_in_and_fan_out(t);
  int64_t fan = mode == FanMode::fan_in ? fan_in : fan_out;
  KILN_CHECK(fan > 0, "kaiming init: zero fan for a tensor of shape ", shape_str(t.shape()));
  return calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan));
}
}  // namespace

Tensor& kaiming_uniform_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  double bound = std::sqrt(3.0) * kaiming_std(t, a, mode, nonlinearity);
  return uniform_(t, -bound, bound);
}
Tensor& kaiming_normal_(Tensor& t, double a, FanMode mode, const std::string& nonlinearity) {
  return normal_(t, 0.0, kaiming_std(t, a, mode, nonlinearity));
}

Tensor& orthogonal_(Tensor& t, double gain) {
  KILN_CHECK(t.dim() >= 2, "orthogonal_: needs at least 2 dims, got shape ", shape_str(t.shape()));
  const int64_t rows = t.size(0), cols = t.numel() / rows;
  // QR of the taller orientation by modified Gram-Schmidt on its columns, in double; then Q's columns are
  // multiplied by sign(diag(R)) so the result is uniformly distributed (as PyTorch does).
  const bool transpose = rows < cols;
  const int64_t m = transpose ? cols : rows, n = transpose ? rows : cols;  // m >= n: A is m x n
  std::vector<double> a = randn({m, n}, {.dtype = DType::f64}).to_vector<double>();
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t k = 0; k < j; ++k) {
      double dot = 0;
      for (int64_t i = 0; i < m; ++i) dot += a[i * n + k] * a[i * n + j];
      for (int64_t i = 0; i < m; ++i) a[i * n + j] -= dot * a[i * n + k];
    }
    double norm = 0;
    for (int64_t i = 0; i < m; ++i) norm += a[i * n + j] * a[i * n + j];
    norm = std::sqrt(norm);
    KILN_CHECK(norm > 0, "orthogonal_: degenerate random draw");
    // R's diagonal entry is `norm` > 0 by construction, so no sign flip is needed.
    for (int64_t i = 0; i < m; ++i) a[i * n + j] /= norm;
  }
  std::vector<double> q(rows * cols);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) q[r * cols + c] = gain * (transpose ? a[c * n + r] : a[r * n + c]);
  autograd::NoGradGuard g;
  t.copy_(from_vector<double>(q, t.shape()));
  return t;
}

}  // namespace kiln::nn::init
