// SimpleImputer and PolynomialFeatures (see preprocessing_features.h). Depends on preprocessing_util.
#include "kiln/classic/preprocessing_features.h"
#include "kiln/classic/validation.h"
#include "kiln/tensor/checked.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/classic/preprocessing_util.h"

namespace kiln::classic {

using prep_detail::Matrix;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
}

// ---------------- SimpleImputer ----------------

SimpleImputer& SimpleImputer::fit(const Tensor& X, const Tensor&) {
  const std::string& s = params_.strategy;
  KILN_CHECK(s == "mean" || s == "median" || s == "most_frequent" || s == "constant",
             "SimpleImputer.fit: strategy must be 'mean', 'median', 'most_frequent' or 'constant', got '", s,
             "'");
  Matrix m = prep_detail::to_matrix(X, "SimpleImputer.fit", validation::Missing::allow_nan);
  KILN_CHECK(m.rows > 0, "SimpleImputer.fit: X has no rows");
  statistics_v_.assign(static_cast<size_t>(m.cols), kNaN);
  for (int64_t c = 0; c < m.cols; ++c) {
    if (s == "constant") {
      statistics_v_[c] = params_.fill_value;
      continue;
    }
    std::vector<double> col;
    for (int64_t r = 0; r < m.rows; ++r)
      if (!std::isnan(m.at(r, c))) col.push_back(m.at(r, c));
    if (col.empty()) {
      statistics_v_[c] = params_.keep_empty_features ? 0.0 : kNaN;
      continue;
    }
    std::sort(col.begin(), col.end());
    size_t n = col.size();
    if (s == "mean") {
      double sum = 0.0;
      for (double x : col) sum += x;
      statistics_v_[c] = sum / static_cast<double>(n);
    } else if (s == "median") {
      statistics_v_[c] = n % 2 ? col[n / 2] : (col[n / 2 - 1] + col[n / 2]) / 2.0;
    } else {  // most_frequent: the first (smallest) of the longest runs in sorted order
      size_t best = 0, best_len = 0;
      for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && col[j] == col[i]) ++j;
        if (j - i > best_len) best = i, best_len = j - i;
        i = j;
      }
      statistics_v_[c] = col[best];
    }
  }
  fitted_ = true;
  return *this;
}

Tensor SimpleImputer::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "SimpleImputer.transform", validation::Missing::allow_nan);
  KILN_CHECK(m.cols == static_cast<int64_t>(statistics_v_.size()), "SimpleImputer.transform: X has ", m.cols,
             " features, but the imputer was fitted on ", statistics_v_.size());
  std::vector<int64_t> keep;
  for (int64_t c = 0; c < m.cols; ++c)
    if (!std::isnan(statistics_v_[c])) keep.push_back(c);
  Matrix out(m.rows, static_cast<int64_t>(keep.size()));
  for (int64_t r = 0; r < m.rows; ++r)
    for (size_t k = 0; k < keep.size(); ++k) {
      double x = m.at(r, keep[k]);
      out.at(r, static_cast<int64_t>(k)) = std::isnan(x) ? statistics_v_[keep[k]] : x;
    }
  return prep_detail::from_matrix(out);
}

Tensor SimpleImputer::statistics_() const {
  validation::check_fitted(fitted_, name() + ".statistics_");
  return prep_detail::values_tensor(statistics_v_);
}

// ---------------- PolynomialFeatures ----------------

PolynomialFeatures& PolynomialFeatures::fit(const Tensor& X, const Tensor&) {
  KILN_CHECK(params_.degree >= 0, "PolynomialFeatures.fit: degree must be >= 0, got ", params_.degree);
  Matrix m = prep_detail::to_matrix(X, "PolynomialFeatures.fit");
  // The output width, counted before any combination is built: C(D + k - 1, k) products of degree k
  // (C(D, k) with interaction_only), saturating at the limit.
  constexpr int64_t kMaxOutputFeatures = int64_t{1} << 24;
  int64_t width = params_.include_bias ? 1 : 0, level_count = 1;
  for (int64_t deg = 1; deg <= params_.degree && width <= kMaxOutputFeatures; ++deg) {
    const int64_t top = params_.interaction_only ? m.cols - deg + 1 : m.cols + deg - 1;
    if (top <= 0) break;
    // level_count * top / deg is exact (a binomial coefficient); long double keeps the product in range.
    const long double next = static_cast<long double>(level_count) * top / deg;
    level_count = next > kMaxOutputFeatures ? kMaxOutputFeatures + 1 : static_cast<int64_t>(next + 0.5L);
    width += level_count;
  }
  KILN_CHECK(width <= kMaxOutputFeatures, "PolynomialFeatures.fit: degree ", params_.degree, " on ", m.cols,
             " features gives more than ", kMaxOutputFeatures,
             " output features; lower the degree or use interaction_only");
  n_features_in_ = m.cols;
  combos_.clear();
  if (params_.include_bias) combos_.push_back({});
  // Combinations (with replacement unless interaction_only) of each degree, in lexicographic order.
  std::vector<std::vector<int64_t>> level = {{}};
  for (int64_t deg = 1; deg <= params_.degree; ++deg) {
    std::vector<std::vector<int64_t>> next;
    for (const auto& c : level) {
      int64_t start = c.empty() ? 0 : c.back() + (params_.interaction_only ? 1 : 0);
      for (int64_t f = start; f < n_features_in_; ++f) {
        next.push_back(c);
        next.back().push_back(f);
      }
    }
    KILN_CHECK(combos_.size() + next.size() < (1u << 26), "PolynomialFeatures.fit: degree ", params_.degree,
               " on ", n_features_in_, " features gives too many output features");
    combos_.insert(combos_.end(), next.begin(), next.end());
    level = std::move(next);
  }
  KILN_CHECK(!combos_.empty(),
             "PolynomialFeatures.fit: degree 0 without include_bias gives no output features");
  fitted_ = true;
  return *this;
}

Tensor PolynomialFeatures::transform(const Tensor& X) const {
  validation::check_fitted(fitted_, name() + ".transform");
  Matrix m = prep_detail::to_matrix(X, "PolynomialFeatures.transform");
  KILN_CHECK(m.cols == n_features_in_, "PolynomialFeatures.transform: X has ", m.cols,
             " features, but it was fitted on ", n_features_in_);
  checked_mul(m.rows, static_cast<int64_t>(combos_.size()), "PolynomialFeatures.transform", "output size");
  Matrix out(m.rows, static_cast<int64_t>(combos_.size()));
  for (int64_t r = 0; r < m.rows; ++r)
    for (size_t k = 0; k < combos_.size(); ++k) {
      double p = 1.0;
      for (size_t i = 0; i < combos_[k].size(); ++i)
        p = i == 0 ? m.at(r, combos_[k][0]) : p * m.at(r, combos_[k][i]);
      out.at(r, static_cast<int64_t>(k)) = p;
    }
  return prep_detail::from_matrix(out);
}

int64_t PolynomialFeatures::n_output_features_() const {
  validation::check_fitted(fitted_, name() + ".n_output_features_");
  return static_cast<int64_t>(combos_.size());
}

Tensor PolynomialFeatures::powers_() const {
  validation::check_fitted(fitted_, name() + ".powers_");
  std::vector<int64_t> p(combos_.size() * static_cast<size_t>(n_features_in_), 0);
  for (size_t k = 0; k < combos_.size(); ++k)
    for (int64_t f : combos_[k]) ++p[k * static_cast<size_t>(n_features_in_) + static_cast<size_t>(f)];
  return from_vector(p, Shape{static_cast<int64_t>(combos_.size()), n_features_in_});
}

}  // namespace kiln::classic
