// kiln/classic/naive_bayes.h: GaussianNB — per-class feature means and variances, scikit-learn's semantics.
// Depends on classic/estimator.h (tensor/ only).
//
// Shapes: X (N, D) floating, y (N) integer labels, sample_weight (N). theta() and var() are (K, D) f64 and
// class_prior() (K). Every variance gets var_smoothing * (the largest feature variance of X) added, so a
// constant feature does not divide by zero.
#pragma once

#include <string>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

class GaussianNB : public Classifier {
 public:
  struct Params {
    // Class priors in the order of classes(); empty: the (weighted) class frequencies. Must sum to 1.
    std::vector<double> priors = {};
    double var_smoothing = 1e-9;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("var_smoothing", var_smoothing);
    }
  };
  GaussianNB() : GaussianNB(Params{}) {}
  explicit GaussianNB(Params p) : p_(std::move(p)) {}

  std::string name() const override { return "GaussianNB"; }
  // var_smoothing only: priors are a list, not a single ParamValue.
  ParamMap get_params() const override { return params::to_map(p_); }
  void set_params(const ParamMap& params) override { params::assign(p_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<GaussianNB>(p_); }
  bool is_fitted() const override { return fitted_; }
  const Params& params() const { return p_; }

  GaussianNB& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;                 // (N) i64
  Tensor predict_proba(const Tensor& X) const override;           // (N, K) f64
  Tensor predict_log_proba(const Tensor& X) const;                // (N, K) f64
  double score(const Tensor& X, const Tensor& y) const override;  // accuracy
  Tensor classes() const override;

  Tensor theta() const;        // (K, D) per-class means
  Tensor var() const;          // (K, D) per-class variances (smoothing included)
  Tensor class_prior() const;  // (K)
  double epsilon() const { return epsilon_; }

 private:
  std::vector<double> joint_log_likelihood(const Tensor& X, const std::string& who) const;  // (N, K)
  Tensor log_proba(const Tensor& X, const std::string& who) const;

  Params p_;
  bool fitted_ = false;
  std::vector<std::int64_t> classes_;
  std::int64_t n_features_ = 0;
  std::vector<double> theta_, var_, prior_;
  double epsilon_ = 0;
};

}  // namespace kiln::classic
