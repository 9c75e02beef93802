// kiln/classic/linear.h: least-squares linear regressors with scikit-learn's semantics — LinearRegression
// (ordinary least squares), Ridge (L2 penalty, closed form) and Lasso (L1 penalty, cyclic coordinate
// descent with a duality-gap stopping rule). Depends on classic/estimator.h (tensor/ only).
//
// Shapes: X (N, D) floating, y (N) floating, sample_weight (N) non-negative. coef() is (D) f64.
// Objectives (w coefficients, b intercept, s sample weights):
//   LinearRegression  sum_i s_i (y_i - x_i.w - b)^2                       (minimum-norm solution if singular)
//   Ridge             sum_i s_i (y_i - x_i.w - b)^2 + alpha |w|^2
//   Lasso             1 / (2 sum_i s_i) sum_i s_i (y_i - x_i.w - b)^2 + alpha |w|_1
// The intercept is never penalized; fit_intercept = false fixes b = 0.
#pragma once

#include <string>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

// What the three regressors share: the fitted coefficients, predict (X w + b) and score (R^2).
class LinearModel : public Regressor {
 public:
  Tensor predict(const Tensor& X) const override;
  double score(const Tensor& X, const Tensor& y) const override;
  bool is_fitted() const override { return fitted_; }
  Tensor coef() const;       // (D) f64; throws before fit
  double intercept() const;  // 0 when fit_intercept is false
  // coef (D), intercept.
  StateDict fitted_state() const override;
  void load_fitted_state(const StateDict& state) override;

 protected:
  std::vector<double> coef_;
  double intercept_ = 0;
  bool fitted_ = false;
};

class LinearRegression : public LinearModel {
 public:
  struct Params {
    bool fit_intercept = true;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("fit_intercept", fit_intercept);
    }
  };
  LinearRegression() : LinearRegression(Params{}) {}
  explicit LinearRegression(Params p) : p_(p) {}
  std::string name() const override { return "LinearRegression"; }
  ParamMap get_params() const override { return params::to_map(p_); }
  void set_params(const ParamMap& params) override { params::assign(p_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<LinearRegression>(p_); }
  LinearRegression& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  const Params& params() const { return p_; }

 private:
  Params p_;
};

class Ridge : public LinearModel {
 public:
  struct Params {
    double alpha = 1.0;  // >= 0
    bool fit_intercept = true;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("alpha", alpha, param::at_least(0));
      visit("fit_intercept", fit_intercept);
    }
  };
  Ridge() : Ridge(Params{}) {}
  explicit Ridge(Params p) : p_(p) {}
  std::string name() const override { return "Ridge"; }
  ParamMap get_params() const override { return params::to_map(p_); }
  void set_params(const ParamMap& params) override { params::assign(p_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<Ridge>(p_); }
  Ridge& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  const Params& params() const { return p_; }

 private:
  Params p_;
};

class Lasso : public LinearModel {
 public:
  struct Params {
    double alpha = 1.0;  // >= 0
    bool fit_intercept = true;
    std::int64_t max_iter = 1000;  // full sweeps over the features
    double tol = 1e-4;             // duality gap, relative to |y - mean(y)|^2, as scikit-learn
    template <class Visit>
    void fields(Visit&& visit) {
      visit("alpha", alpha, param::at_least(0));
      visit("fit_intercept", fit_intercept);
      visit("max_iter", max_iter, param::at_least(1));
      visit("tol", tol, param::at_least(0));
    }
  };
  Lasso() : Lasso(Params{}) {}
  explicit Lasso(Params p) : p_(p) {}
  std::string name() const override { return "Lasso"; }
  ParamMap get_params() const override { return params::to_map(p_); }
  void set_params(const ParamMap& params) override { params::assign(p_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<Lasso>(p_); }
  Lasso& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  const Params& params() const { return p_; }
  std::int64_t n_iter() const { return n_iter_; }
  // Convergence warnings of the last fit (empty when it converged); each is also printed to stderr once.
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  Params p_;
  std::int64_t n_iter_ = 0;
  std::vector<std::string> warnings_;
};

}  // namespace kiln::classic
