// kiln/classic/hist_gradient_boosting.h: HistGradientBoostingClassifier and HistGradientBoostingRegressor,
// scikit-learn's histogram-based gradient boosting (after LightGBM): features binned into at most
// max_bins (<= 255) bins on the training rows, one leaf-wise tree per iteration (per class for multiclass
// log-loss, softmax), Newton leaf values -G / (H + l2_regularization) shrunk by learning_rate, and early
// stopping on a held-out validation_fraction of the training rows (stratified for the classifier) when the
// validation loss has not improved by more than tol for n_iter_no_change iterations.
// Depends on estimator.h and hist_gradient_boosting_core.h.
//
// X: (N, D) floating or integer, finite (missing values are not supported: impute first). Classifier y:
// (N) integer labels, binary log-loss for 2 classes, multinomial for more; regressor y: (N) floating,
// squared error. sample_weight: (N) >= 0, scales each row's gradient and hessian.
// early_stopping: "auto" (on when N > 10000, as scikit-learn), or the bools true / false.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/classic/hist_gradient_boosting_core.h"

namespace kiln::classic {

namespace detail {
// The fitted state both estimators share.
struct BoostingModel {
  BinMapper mapper;
  std::vector<double> baseline;             // one raw score per tree of an iteration
  std::vector<std::vector<HgbTree>> trees;  // [iteration][class tree]
  std::vector<double> validation_score;     // minus the validation loss, from before the first tree
  int64_t n_features = 0;
};
}  // namespace detail

class HistGradientBoostingClassifier : public Classifier {
 public:
  struct Params {
    std::string loss = "log_loss";
    double learning_rate = 0.1;
    int64_t max_iter = 100;
    int64_t max_leaf_nodes = 31;  // -1: unlimited
    int64_t max_depth = -1;       // -1: unlimited
    int64_t min_samples_leaf = 20;
    double l2_regularization = 0.0;
    int64_t max_bins = 255;
    ParamValue early_stopping = std::string("auto");
    double validation_fraction = 0.1;
    int64_t n_iter_no_change = 10;
    double tol = 1e-7;
    std::string class_weight = "";  // "" or "balanced"
    int64_t n_jobs = 0;
    int64_t random_state = 0;  // draws the validation split
    template <class Visit>
    void fields(Visit&& visit) {
      visit("loss", loss);
      visit("learning_rate", learning_rate);
      visit("max_iter", max_iter);
      visit("max_leaf_nodes", max_leaf_nodes);
      visit("max_depth", max_depth);
      visit("min_samples_leaf", min_samples_leaf);
      visit("l2_regularization", l2_regularization);
      visit("max_bins", max_bins);
      visit("early_stopping", early_stopping);
      visit("validation_fraction", validation_fraction);
      visit("n_iter_no_change", n_iter_no_change);
      visit("tol", tol);
      visit("class_weight", class_weight);
      visit("n_jobs", n_jobs);
      visit("random_state", random_state);
    }
  };
  HistGradientBoostingClassifier();  // default Params
  explicit HistGradientBoostingClassifier(Params params);

  std::string name() const override { return "HistGradientBoostingClassifier"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override {
    return std::make_unique<HistGradientBoostingClassifier>(params_);
  }
  bool is_fitted() const override { return fitted_; }

  HistGradientBoostingClassifier& fit(const Tensor& X, const Tensor& y,
                                      const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;        // (N) i64
  Tensor predict_proba(const Tensor& X) const override;  // (N, K) f64
  Tensor decision_function(const Tensor& X) const;       // (N) raw scores for 2 classes, (N, K) otherwise
  double score(const Tensor& X, const Tensor& y) const override;
  Tensor classes() const override;

  int64_t n_iter_() const;  // boosting iterations kept (early stopping may cut)
  std::vector<double> validation_score_()
      const;  // per iteration, from the baseline; empty without early stop
  const Params& params() const { return params_; }

 private:
  std::vector<double> raw_scores(const Tensor& X, const char* method) const;
  Params params_;
  bool fitted_ = false;
  std::vector<int64_t> classes_;
  detail::BoostingModel model_;
};

class HistGradientBoostingRegressor : public Regressor {
 public:
  struct Params {
    std::string loss = "squared_error";
    double learning_rate = 0.1;
    int64_t max_iter = 100;
    int64_t max_leaf_nodes = 31;  // -1: unlimited
    int64_t max_depth = -1;       // -1: unlimited
    int64_t min_samples_leaf = 20;
    double l2_regularization = 0.0;
    int64_t max_bins = 255;
    ParamValue early_stopping = std::string("auto");
    double validation_fraction = 0.1;
    int64_t n_iter_no_change = 10;
    double tol = 1e-7;
    int64_t n_jobs = 0;
    int64_t random_state = 0;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("loss", loss);
      visit("learning_rate", learning_rate);
      visit("max_iter", max_iter);
      visit("max_leaf_nodes", max_leaf_nodes);
      visit("max_depth", max_depth);
      visit("min_samples_leaf", min_samples_leaf);
      visit("l2_regularization", l2_regularization);
      visit("max_bins", max_bins);
      visit("early_stopping", early_stopping);
      visit("validation_fraction", validation_fraction);
      visit("n_iter_no_change", n_iter_no_change);
      visit("tol", tol);
      visit("n_jobs", n_jobs);
      visit("random_state", random_state);
    }
  };
  HistGradientBoostingRegressor();
  explicit HistGradientBoostingRegressor(Params params);

  std::string name() const override { return "HistGradientBoostingRegressor"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override {
    return std::make_unique<HistGradientBoostingRegressor>(params_);
  }
  bool is_fitted() const override { return fitted_; }

  HistGradientBoostingRegressor& fit(const Tensor& X, const Tensor& y,
                                     const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;                 // (N) f64
  double score(const Tensor& X, const Tensor& y) const override;  // R^2

  int64_t n_iter_() const;
  std::vector<double> validation_score_() const;
  const Params& params() const { return params_; }

 private:
  Params params_;
  bool fitted_ = false;
  detail::BoostingModel model_;
};

}  // namespace kiln::classic
