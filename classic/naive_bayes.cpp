// kiln/classic/naive_bayes.cpp: GaussianNB (naive_bayes.h): weighted per-class moments, then the Gaussian
// joint log-likelihood normalized with log-sum-exp.
#include "kiln/classic/naive_bayes.h"
#include "kiln/classic/validation.h"

#include <cmath>
#include <numbers>

#include "kiln/classic/linear_detail.h"

namespace kiln::classic {

GaussianNB& GaussianNB::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = "GaussianNB.fit";
  validation::check_param(who, "var_smoothing", p_.var_smoothing, {0, validation::kInf, true, false});
  Eigen::MatrixXd x = linear_detail::to_matrix(X, who);
  const std::int64_t n = x.rows(), d = x.cols();
  linear_detail::Encoded enc = linear_detail::encode_labels(linear_detail::to_labels(y, n, who));
  const std::int64_t k = static_cast<std::int64_t>(enc.classes.size());
  Eigen::VectorXd sw = linear_detail::to_sample_weight(sample_weight, n, who);
  if (!p_.priors.empty()) {
    KILN_CHECK(static_cast<std::int64_t>(p_.priors.size()) == k, who, ": ", p_.priors.size(),
               " priors given for ", k, " classes");
    double sum = 0;
    for (double v : p_.priors) {
      KILN_CHECK(v >= 0, who, ": priors must be non-negative, got ", v);
      sum += v;
    }
    KILN_CHECK(std::abs(sum - 1.0) <= 1e-8, who, ": priors must sum to 1, they sum to ", sum);
  }
  // The smoothing scale is the largest (unweighted) feature variance, as in scikit-learn.
  Eigen::RowVectorXd mean_all = x.colwise().mean();
  epsilon_ = p_.var_smoothing * ((x.rowwise() - mean_all).array().square().colwise().sum() / n).maxCoeff();

  Eigen::MatrixXd sum = Eigen::MatrixXd::Zero(k, d);
  Eigen::VectorXd count = Eigen::VectorXd::Zero(k);
  for (std::int64_t i = 0; i < n; ++i) {
    sum.row(enc.index[i]) += sw[i] * x.row(i);
    count[enc.index[i]] += sw[i];
  }
  for (std::int64_t c = 0; c < k; ++c)
    KILN_CHECK(count[c] > 0, who, ": class ", enc.classes[c], " has zero total sample_weight");
  Eigen::MatrixXd theta = sum.array().colwise() / count.array();
  Eigen::MatrixXd var = Eigen::MatrixXd::Zero(k, d);
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = enc.index[i];
    var.row(c) += sw[i] * (x.row(i) - theta.row(c)).array().square().matrix();
  }
  var = (var.array().colwise() / count.array()) + epsilon_;

  classes_ = enc.classes;
  n_features_ = d;
  linear_detail::RowMatrix t = theta, v = var;
  theta_.assign(t.data(), t.data() + t.size());
  var_.assign(v.data(), v.data() + v.size());
  prior_ = p_.priors;
  if (prior_.empty())
    for (std::int64_t c = 0; c < k; ++c) prior_.push_back(count[c] / count.sum());
  fitted_ = true;
  return *this;
}

std::vector<double> GaussianNB::joint_log_likelihood(const Tensor& X, const std::string& who) const {
  validation::check_fitted(fitted_, who);
  linear_detail::RowMatrix x = linear_detail::to_row_matrix(X, who);
  linear_detail::check_features(x.cols(), n_features_, who);
  const std::int64_t n = x.rows(), k = static_cast<std::int64_t>(classes_.size()), d = n_features_;
  std::vector<double> base(k);
  for (std::int64_t c = 0; c < k; ++c) {
    double s = 0;
    for (std::int64_t j = 0; j < d; ++j) s += std::log(2.0 * std::numbers::pi * var_[c * d + j]);
    base[c] = std::log(prior_[c]) - 0.5 * s;
  }
  std::vector<double> jll(n * k);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < k; ++c) {
      double s = 0;
      for (std::int64_t j = 0; j < d; ++j) {
        const double diff = x(i, j) - theta_[c * d + j];
        s += diff * diff / var_[c * d + j];
      }
      jll[i * k + c] = base[c] - 0.5 * s;
    }
  return jll;
}

Tensor GaussianNB::predict_log_proba(const Tensor& X) const {
  return log_proba(X, "GaussianNB.predict_log_proba");
}

Tensor GaussianNB::log_proba(const Tensor& X, const std::string& who) const {
  std::vector<double> jll = joint_log_likelihood(X, who);
  const std::int64_t k = static_cast<std::int64_t>(classes_.size()),
                     n = static_cast<std::int64_t>(jll.size()) / k;
  for (std::int64_t i = 0; i < n; ++i) {
    double* row = jll.data() + i * k;
    double m = *std::max_element(row, row + k), s = 0;
    for (std::int64_t c = 0; c < k; ++c) s += std::exp(row[c] - m);
    const double lse = m + std::log(s);
    for (std::int64_t c = 0; c < k; ++c) row[c] -= lse;
  }
  return from_vector(jll, Shape{n, k});
}

Tensor GaussianNB::predict_proba(const Tensor& X) const {
  std::vector<double> lp = log_proba(X, "GaussianNB.predict_proba").to_vector<double>();
  for (double& v : lp) v = std::exp(v);
  const std::int64_t k = static_cast<std::int64_t>(classes_.size());
  return from_vector(lp, Shape{static_cast<std::int64_t>(lp.size()) / k, k});
}

Tensor GaussianNB::predict(const Tensor& X) const {
  std::vector<double> jll = joint_log_likelihood(X, "GaussianNB.predict");
  const std::int64_t k = static_cast<std::int64_t>(classes_.size()),
                     n = static_cast<std::int64_t>(jll.size()) / k;
  std::vector<std::int64_t> out(n);
  for (std::int64_t i = 0; i < n; ++i) {
    const double* row = jll.data() + i * k;
    out[i] = classes_[std::max_element(row, row + k) - row];
  }
  return from_vector(out);
}

double GaussianNB::score(const Tensor& X, const Tensor& y) const {
  std::vector<std::int64_t> pred = predict(X).to_vector<std::int64_t>();
  std::vector<std::int64_t> truth =
      linear_detail::to_labels(y, static_cast<std::int64_t>(pred.size()), "GaussianNB.score");
  std::int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor GaussianNB::classes() const {
  validation::check_fitted(fitted_, "GaussianNB.classes");
  return from_vector(classes_);
}

Tensor GaussianNB::theta() const {
  validation::check_fitted(fitted_, "GaussianNB.theta");
  return from_vector(theta_, Shape{static_cast<std::int64_t>(classes_.size()), n_features_});
}

Tensor GaussianNB::var() const {
  validation::check_fitted(fitted_, "GaussianNB.var");
  return from_vector(var_, Shape{static_cast<std::int64_t>(classes_.size()), n_features_});
}

Tensor GaussianNB::class_prior() const {
  validation::check_fitted(fitted_, "GaussianNB.class_prior");
  return from_vector(prior_);
}

}  // namespace kiln::classic
