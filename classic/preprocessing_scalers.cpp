// StandardScaler, MinMaxScaler, RobustScaler (see preprocessing_scalers.h). Statistics follow scikit-learn
// 1.2's formulas (two-pass variance with its correction term, the Chan-Golub-LeVeque constant-feature
// test, numpy's percentile interpolation) so outputs agree to rounding. Depends on preprocessing_util.
#include "kiln/classic/preprocessing_scalers.h"
#include "kiln/classic/validation.h"

#include "kiln/classic/estimator_state.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/classic/preprocessing_util.h"

namespace kiln::classic {

using prep_detail::Matrix;

namespace {
constexpr double kEps = std::numeric_limits<double>::epsilon();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

Tensor vec(const std::vector<double>& v) { return prep_detail::values_tensor(v); }

void check_width(const Matrix& m, size_t d, const std::string& who) {
  KILN_CHECK(m.cols == static_cast<int64_t>(d), who, ": X has ", m.cols,
             " features, but the scaler was fitted on ", d);
}

void check_rows(const Matrix& m, const std::string& who) {
  KILN_CHECK(m.rows > 0, who, ": X has no rows (shape [0, ", m.cols, "])");
}

// y = (x - shift) / scale per column, or its inverse.
Tensor affine(const Matrix& in, const std::vector<double>& shift, const std::vector<double>& scale,
              bool inverse) {
  Matrix out = in;
  for (int64_t r = 0; r < out.rows; ++r)
    for (int64_t c = 0; c < out.cols; ++c) {
      double& x = out.at(r, c);
      x = inverse ? x * scale[c] + shift[c] : (x - shift[c]) / scale[c];
    }
  return prep_detail::from_matrix(out);
}
}  // namespace

namespace prep_detail {
double nan_percentile(std::vector<double> values, double q) {
  values.erase(std::remove_if(values.begin(), values.end(), [](double x) { return std::isnan(x); }),
               values.end());
  if (values.empty()) return kNaN;
  std::sort(values.begin(), values.end());
  double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  auto lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, values.size() - 1);
  double t = pos - static_cast<double>(lo);
  double a = values[lo], b = values[hi], diff = b - a;
  // numpy's _lerp: interpolate from the nearer end for accuracy.
  return t >= 0.5 ? b - diff * (1.0 - t) : a + diff * t;
}
}  // namespace prep_detail

// ---------------- StandardScaler ----------------

StandardScaler& StandardScaler::fit(const Tensor& X, const Tensor&) {
  Matrix m = prep_detail::to_matrix(X, "StandardScaler.fit", validation::Missing::allow_nan);
  check_rows(m, "StandardScaler.fit");
  const int64_t d = m.cols;
  mean_v_.assign(d, 0.0);
  var_v_.assign(d, 0.0);
  scale_v_.assign(d, 1.0);
  std::vector<int64_t> count(d, 0);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < d; ++c)
      if (!std::isnan(m.at(r, c))) {
        mean_v_[c] += m.at(r, c);
        ++count[c];
      }
  for (int64_t c = 0; c < d; ++c) {
    double n = static_cast<double>(count[c]);
    mean_v_[c] = count[c] ? mean_v_[c] / n : kNaN;
    double corr = 0.0, sq = 0.0;
    for (int64_t r = 0; r < m.rows; ++r) {
      double x = m.at(r, c);
      if (std::isnan(x)) continue;
      corr += x - mean_v_[c];
      sq += (x - mean_v_[c]) * (x - mean_v_[c]);
    }
    var_v_[c] = count[c] ? (sq - corr * corr / n) / n : kNaN;
    if (params_.with_std) {
      bool constant = var_v_[c] <= n * kEps * var_v_[c] + (n * mean_v_[c] * kEps) * (n * mean_v_[c] * kEps);
      scale_v_[c] = constant ? 1.0 : std::sqrt(var_v_[c]);
    }
  }
  n_seen_ = m.rows;
  fitted_ = true;
  return *this;
}

Tensor StandardScaler::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "StandardScaler.transform", validation::Missing::allow_nan);
  check_width(m, mean_v_.size(), "StandardScaler.transform");
  std::vector<double> shift = params_.with_mean ? mean_v_ : std::vector<double>(mean_v_.size(), 0.0);
  return affine(m, shift, scale_v_, false);
}

Tensor StandardScaler::inverse_transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".inverse_transform");
  Matrix m = prep_detail::to_matrix(X, "StandardScaler.inverse_transform", validation::Missing::allow_nan);
  check_width(m, mean_v_.size(), "StandardScaler.inverse_transform");
  std::vector<double> shift = params_.with_mean ? mean_v_ : std::vector<double>(mean_v_.size(), 0.0);
  return affine(m, shift, scale_v_, true);
}

Tensor StandardScaler::mean_() const {
  validation::check_fitted(fitted_, name() + ".mean_");
  return vec(mean_v_);
}
Tensor StandardScaler::var_() const {
  validation::check_fitted(fitted_, name() + ".var_");
  return vec(var_v_);
}
Tensor StandardScaler::scale_() const {
  validation::check_fitted(fitted_, name() + ".scale_");
  return vec(scale_v_);
}
int64_t StandardScaler::n_samples_seen_() const {
  validation::check_fitted(fitted_, name() + ".n_samples_seen_");
  return n_seen_;
}

// ---------------- MinMaxScaler ----------------

MinMaxScaler& MinMaxScaler::fit(const Tensor& X, const Tensor&) {
  KILN_CHECK(params_.feature_min < params_.feature_max,
             "MinMaxScaler.fit: feature range must satisfy feature_min < feature_max, got (",
             params_.feature_min, ", ", params_.feature_max, ")");
  Matrix m = prep_detail::to_matrix(X, "MinMaxScaler.fit", validation::Missing::allow_nan);
  check_rows(m, "MinMaxScaler.fit");
  const int64_t d = m.cols;
  data_min_v_.assign(d, kNaN);
  data_max_v_.assign(d, kNaN);
  scale_v_.assign(d, 0.0);
  min_v_.assign(d, 0.0);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < d; ++c) {
      double x = m.at(r, c);
      if (std::isnan(x)) continue;
      if (std::isnan(data_min_v_[c]) || x < data_min_v_[c]) data_min_v_[c] = x;
      if (std::isnan(data_max_v_[c]) || x > data_max_v_[c]) data_max_v_[c] = x;
    }
  for (int64_t c = 0; c < d; ++c) {
    double range = data_max_v_[c] - data_min_v_[c];
    if (range < 10 * kEps) range = 1.0;  // scikit-learn's _handle_zeros_in_scale
    scale_v_[c] = (params_.feature_max - params_.feature_min) / range;
    min_v_[c] = params_.feature_min - data_min_v_[c] * scale_v_[c];
  }
  fitted_ = true;
  return *this;
}

Tensor MinMaxScaler::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "MinMaxScaler.transform", validation::Missing::allow_nan);
  check_width(m, scale_v_.size(), "MinMaxScaler.transform");
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) {
      double& x = m.at(r, c);
      x = x * scale_v_[c] + min_v_[c];
      if (params_.clip && !std::isnan(x)) x = std::clamp(x, params_.feature_min, params_.feature_max);
    }
  return prep_detail::from_matrix(m);
}

Tensor MinMaxScaler::inverse_transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".inverse_transform");
  Matrix m = prep_detail::to_matrix(X, "MinMaxScaler.inverse_transform", validation::Missing::allow_nan);
  check_width(m, scale_v_.size(), "MinMaxScaler.inverse_transform");
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c) m.at(r, c) = (m.at(r, c) - min_v_[c]) / scale_v_[c];
  return prep_detail::from_matrix(m);
}

Tensor MinMaxScaler::data_min_() const {
  validation::check_fitted(fitted_, name() + ".data_min_");
  return vec(data_min_v_);
}
Tensor MinMaxScaler::data_max_() const {
  validation::check_fitted(fitted_, name() + ".data_max_");
  return vec(data_max_v_);
}
Tensor MinMaxScaler::scale_() const {
  validation::check_fitted(fitted_, name() + ".scale_");
  return vec(scale_v_);
}
Tensor MinMaxScaler::min_() const {
  validation::check_fitted(fitted_, name() + ".min_");
  return vec(min_v_);
}

// ---------------- RobustScaler ----------------

RobustScaler& RobustScaler::fit(const Tensor& X, const Tensor&) {
  KILN_CHECK(0 <= params_.quantile_min && params_.quantile_min <= params_.quantile_max &&
                 params_.quantile_max <= 100,
             "RobustScaler.fit: invalid quantile range (", params_.quantile_min, ", ", params_.quantile_max,
             "); need 0 <= quantile_min <= quantile_max <= 100");
  Matrix m = prep_detail::to_matrix(X, "RobustScaler.fit", validation::Missing::allow_nan);
  check_rows(m, "RobustScaler.fit");
  const int64_t d = m.cols;
  center_v_.assign(d, 0.0);
  scale_v_.assign(d, 1.0);
  for (int64_t c = 0; c < d; ++c) {
    std::vector<double> col(static_cast<size_t>(m.rows));
    for (int64_t r = 0; r < m.rows; ++r) col[r] = m.at(r, c);
    if (params_.with_centering) {
      // numpy's nanmedian: the mean of the two middle values.
      std::vector<double> s;
      for (double x : col)
        if (!std::isnan(x)) s.push_back(x);
      std::sort(s.begin(), s.end());
      size_t n = s.size();
      center_v_[c] = n == 0 ? kNaN : (n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2.0);
    }
    if (params_.with_scaling) {
      double range = prep_detail::nan_percentile(col, params_.quantile_max) -
                     prep_detail::nan_percentile(col, params_.quantile_min);
      scale_v_[c] = range < 10 * kEps ? 1.0 : range;
    }
  }
  fitted_ = true;
  return *this;
}

Tensor RobustScaler::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "RobustScaler.transform", validation::Missing::allow_nan);
  check_width(m, scale_v_.size(), "RobustScaler.transform");
  return affine(m, center_v_, scale_v_, false);
}

Tensor RobustScaler::inverse_transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".inverse_transform");
  Matrix m = prep_detail::to_matrix(X, "RobustScaler.inverse_transform", validation::Missing::allow_nan);
  check_width(m, scale_v_.size(), "RobustScaler.inverse_transform");
  return affine(m, center_v_, scale_v_, true);
}

Tensor RobustScaler::center_() const {
  validation::check_fitted(fitted_, name() + ".center_");
  return vec(center_v_);
}
Tensor RobustScaler::scale_() const {
  validation::check_fitted(fitted_, name() + ".scale_");
  return vec(scale_v_);
}

StateDict StandardScaler::fitted_state() const {
  validation::check_fitted(fitted_, name() + ".fitted_state");
  StateDict s;
  s.insert("n_samples_seen", state::i64_scalar(n_seen_));
  s.insert("mean", state::f64(mean_v_));
  s.insert("var", state::f64(var_v_));
  s.insert("scale", state::f64(scale_v_));
  return s;
}

void StandardScaler::load_fitted_state(const StateDict& s) {
  const std::int64_t n = state::i64_item(s, "n_samples_seen", name());
  std::vector<double> mean = state::f64_values(s, "mean", name());
  const auto d = static_cast<std::int64_t>(mean.size());
  std::vector<double> var = state::f64_values(s, "var", name(), d),
                      scale = state::f64_values(s, "scale", name(), d);
  n_seen_ = n, mean_v_ = std::move(mean), var_v_ = std::move(var), scale_v_ = std::move(scale);
  fitted_ = true;
}

}  // namespace kiln::classic
