// kiln/classic/logistic.h: LogisticRegression with scikit-learn's "lbfgs" semantics. Depends on
// classic/estimator.h (tensor/ only).
//
// Shapes: X (N, D) floating; y (N) integer labels (K >= 2 distinct values); sample_weight (N).
// Minimizes  sum_i s_i c_{y_i} loss_i + 1 / (2 C) |W|^2  (intercepts not penalized; penalty "none" drops
// the second term), with s the sample weights and c the class weights. loss_i is the logistic loss
// (binary: one coefficient row for classes()[1]) or the softmax cross-entropy (multinomial: K rows, all
// penalized). multi_class "auto" means binary for K = 2 and multinomial otherwise; "ovr" fits K binary
// problems. The solver is L-BFGS stopping at max|gradient| <= tol or at a relative loss decrease below
// 2.2e-9 * min(1, tol / 1e-4): scipy's L-BFGS-B rules under scikit-learn at the default tol, while a
// smaller tol tightens the second rule so that the fit really reaches the optimum. When it stops at max_iter
// instead, warnings() holds a message with the hint to scale the data (StandardScaler) or raise max_iter,
// also printed to stderr once.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

class LogisticRegression : public Classifier {
 public:
  struct Params {
    std::string penalty = "l2";  // "l2" or "none"
    double C = 1.0;              // inverse regularization strength, > 0
    bool fit_intercept = true;
    // "" (all weights 1) or "balanced" (N / (K * count_k)); class_weights, when not empty, gives the
    // weight per label instead (labels absent from it weigh 1).
    std::string class_weight = "";
    std::map<std::int64_t, double> class_weights = {};
    std::int64_t max_iter = 100;
    double tol = 1e-4;
    std::string multi_class = "auto";  // "auto", "multinomial" or "ovr"
    std::int64_t n_jobs = 0;           // threads for the matrix products; 0 = kiln::get_num_threads()
    template <class Visit>
    void fields(Visit&& visit) {
      visit("penalty", penalty);
      visit("C", C);
      visit("fit_intercept", fit_intercept);
      visit("class_weight", class_weight);
      visit("max_iter", max_iter);
      visit("tol", tol);
      visit("multi_class", multi_class);
      visit("n_jobs", n_jobs);
    }
  };
  LogisticRegression() : LogisticRegression(Params{}) {}
  explicit LogisticRegression(Params p) : p_(std::move(p)) {}

  std::string name() const override { return "LogisticRegression"; }
  ParamMap get_params() const override { return params::to_map(p_); }
  void set_params(const ParamMap& params) override { params::assign(p_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<LogisticRegression>(p_); }
  bool is_fitted() const override { return fitted_; }
  const Params& params() const { return p_; }

  LogisticRegression& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;        // (N) i64 labels
  Tensor predict_proba(const Tensor& X) const override;  // (N, K) f64
  Tensor predict_log_proba(const Tensor& X) const;       // (N, K) f64
  // (N) f64 for a binary model (positive: classes()[1]), else (N, K) f64.
  Tensor decision_function(const Tensor& X) const;
  double score(const Tensor& X, const Tensor& y) const override;  // accuracy
  Tensor classes() const override;

  Tensor coef() const;       // (1, D) for a binary model, else (K, D); f64
  Tensor intercept() const;  // (1) or (K) f64
  // L-BFGS iterations of the last fit (the largest over the one-vs-rest problems).
  std::int64_t n_iter() const { return n_iter_; }
  // Convergence warnings of the last fit; empty when it converged.
  const std::vector<std::string>& warnings() const { return warnings_; }
  // classes (K), coef (rows, D), intercept (rows), ovr (0/1), n_iter.
  StateDict fitted_state() const override;
  void load_fitted_state(const StateDict& state) override;

 private:
  std::vector<double> raw_scores(const Tensor& X, const std::string& who) const;  // (N, rows) row-major

  Params p_;
  bool fitted_ = false;
  bool ovr_ = false;  // one-vs-rest with K > 2: sigmoid per row, then normalized
  std::vector<std::int64_t> classes_;
  std::int64_t n_features_ = 0;
  std::int64_t rows_ = 0;          // coefficient rows: 1 (binary) or K
  std::vector<double> coef_;       // (rows, D) row-major
  std::vector<double> intercept_;  // (rows)
  std::int64_t n_iter_ = 0;
  std::vector<std::string> warnings_;
};

}  // namespace kiln::classic
