// Regression metrics (see metrics.h): MSE, RMSE, MAE, R^2, explained variance, each per output and then
// averaged uniformly, as scikit-learn's multioutput="uniform_average". Depends on metrics_common.h.
#include <cmath>
#include <functional>

#include "kiln/classic/metrics.h"
#include "kiln/classic/metrics_common.h"

namespace kiln::classic {

namespace {

// y_true and y_pred as (N, M) matrices of one shape, with weights (N).
struct RegInput {
  prep_detail::Matrix t, p;
  std::vector<double> w;
  double wsum = 0;
};

RegInput reg_input(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight,
                   const std::string& who) {
  KILN_CHECK(y_true.defined() && y_pred.defined(), who, ": y_true or y_pred is an undefined tensor");
  KILN_CHECK(y_true.shape() == y_pred.shape(), who, ": y_true has shape ", shape_str(y_true.shape()),
             " but y_pred has shape ", shape_str(y_pred.shape()));
  KILN_CHECK(y_true.dim() == 1 || y_true.dim() == 2, who, ": targets must be (N) or (N, M), got shape ",
             shape_str(y_true.shape()));
  KILN_CHECK(y_true.numel() > 0, who, ": y_true is empty");
  auto as2d = [&](const Tensor& y) {
    prep_detail::Matrix m;
    m.rows = y.size(0);
    m.cols = y.dim() == 2 ? y.size(1) : 1;
    KILN_CHECK(y.device().is_cpu(), who, ": targets must be CPU tensors, got one on ", y.device());
    m.v = y.to_vector<double>();
    validation::check_finite(m.v.data(), m.v.size(), m.cols, who, &y == &y_true ? "y_true" : "y_pred");
    return m;
  };
  RegInput in;
  in.t = as2d(y_true);
  in.p = as2d(y_pred);
  in.w = prep_detail::weights_of(sample_weight, static_cast<size_t>(in.t.rows), who);
  for (double x : in.w) in.wsum += x;
  KILN_CHECK(in.wsum > 0, who, ": sample_weight sums to zero");
  return in;
}

// Mean over outputs of f(output column).
double per_output(const RegInput& in, const std::function<double(int64_t)>& f) {
  double s = 0;
  for (int64_t c = 0; c < in.t.cols; ++c) s += f(c);
  return s / static_cast<double>(in.t.cols);
}

// Weighted average over rows of g(row, col).
double wavg(const RegInput& in, int64_t c, const std::function<double(int64_t, int64_t)>& g) {
  double s = 0;
  for (int64_t r = 0; r < in.t.rows; ++r) s += in.w[r] * g(r, c);
  return s / in.wsum;
}

// scikit-learn's force_finite: 1 for a perfect fit of a constant target, 0 otherwise.
double ratio_score(double num, double den) {
  if (den == 0) return num == 0 ? 1.0 : 0.0;
  return 1.0 - num / den;
}

}  // namespace

double mean_squared_error(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight,
                          bool squared) {
  RegInput in = reg_input(y_true, y_pred, sample_weight, "mean_squared_error");
  return per_output(in, [&](int64_t c) {
    double mse = wavg(in, c, [&](int64_t r, int64_t k) {
      double d = in.t.at(r, k) - in.p.at(r, k);
      return d * d;
    });
    return squared ? mse : std::sqrt(mse);
  });
}

double root_mean_squared_error(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  return mean_squared_error(y_true, y_pred, sample_weight, false);
}

double mean_absolute_error(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  RegInput in = reg_input(y_true, y_pred, sample_weight, "mean_absolute_error");
  return per_output(in, [&](int64_t c) {
    return wavg(in, c, [&](int64_t r, int64_t k) { return std::abs(in.t.at(r, k) - in.p.at(r, k)); });
  });
}

double r2_score(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  RegInput in = reg_input(y_true, y_pred, sample_weight, "r2_score");
  KILN_CHECK(in.t.rows >= 2, "r2_score: R^2 is not well-defined with fewer than two samples");
  return per_output(in, [&](int64_t c) {
    double mean = wavg(in, c, [&](int64_t r, int64_t k) { return in.t.at(r, k); });
    double num = 0, den = 0;
    for (int64_t r = 0; r < in.t.rows; ++r) {
      double d = in.t.at(r, c) - in.p.at(r, c), e = in.t.at(r, c) - mean;
      num += in.w[r] * d * d;
      den += in.w[r] * e * e;
    }
    return ratio_score(num, den);
  });
}

double explained_variance_score(const Tensor& y_true, const Tensor& y_pred, const Tensor& sample_weight) {
  RegInput in = reg_input(y_true, y_pred, sample_weight, "explained_variance_score");
  return per_output(in, [&](int64_t c) {
    auto diff = [&](int64_t r, int64_t k) { return in.t.at(r, k) - in.p.at(r, k); };
    double diff_mean = wavg(in, c, diff);
    double num = wavg(in, c, [&](int64_t r, int64_t k) {
      double d = diff(r, k) - diff_mean;
      return d * d;
    });
    double mean = wavg(in, c, [&](int64_t r, int64_t k) { return in.t.at(r, k); });
    double den = wavg(in, c, [&](int64_t r, int64_t k) {
      double e = in.t.at(r, k) - mean;
      return e * e;
    });
    return ratio_score(num, den);
  });
}

}  // namespace kiln::classic
