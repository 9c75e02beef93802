// kiln/classic/forest.h: RandomForestClassifier and RandomForestRegressor with scikit-learn's parameters,
// defaults and semantics: bootstrap samples as integer sample weights, max_features features drawn per
// node, predict_proba the mean of the trees' leaf probabilities, out-of-bag scores, impurity-decrease
// importances. Trees are grown in parallel (OpenMP, n_jobs threads) over feature ranks computed once for
// all trees (tree_builder.h). Tree t draws from a seed that depends only on random_state and t, so a
// fitted forest is the same for any n_jobs. Depends on estimator.h, tree.h and tree_builder.h.
//
// X: (N, D) floating or integer, finite. Classifier y: (N) integer labels; regressor y: (N) floating.
// Parameters by name: n_estimators, criterion, max_depth (-1 = unlimited), min_samples_split,
// min_samples_leaf, max_features (int, double, "sqrt", "log2", "none"), min_impurity_decrease, bootstrap,
// oob_score, class_weight (classifier: "", "balanced", "balanced_subsample"), n_jobs (0 = kiln's thread
// count), random_state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/classic/tree_builder.h"

namespace kiln::classic {

class RandomForestClassifier : public Classifier {
 public:
  struct Params {
    int64_t n_estimators = 100;
    std::string criterion = "gini";
    int64_t max_depth = -1;
    int64_t min_samples_split = 2;
    int64_t min_samples_leaf = 1;
    ParamValue max_features = std::string("sqrt");
    double min_impurity_decrease = 0.0;
    bool bootstrap = true;
    bool oob_score = false;         // needs bootstrap
    std::string class_weight = "";  // "", "balanced" or "balanced_subsample"
    int64_t n_jobs = 0;
    int64_t random_state = 0;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("n_estimators", n_estimators);
      visit("criterion", criterion);
      visit("max_depth", max_depth);
      visit("min_samples_split", min_samples_split);
      visit("min_samples_leaf", min_samples_leaf);
      visit("max_features", max_features);
      visit("min_impurity_decrease", min_impurity_decrease);
      visit("bootstrap", bootstrap);
      visit("oob_score", oob_score);
      visit("class_weight", class_weight);
      visit("n_jobs", n_jobs);
      visit("random_state", random_state);
    }
  };
  RandomForestClassifier();  // default Params
  explicit RandomForestClassifier(Params params);

  std::string name() const override { return "RandomForestClassifier"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override {
    return std::make_unique<RandomForestClassifier>(params_);
  }
  bool is_fitted() const override { return fitted_; }

  RandomForestClassifier& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;        // (N) i64: the class of highest mean probability
  Tensor predict_proba(const Tensor& X) const override;  // (N, K) f64: mean of the trees' probabilities
  double score(const Tensor& X, const Tensor& y) const override;
  Tensor classes() const override;

  Tensor feature_importances_() const;  // (D) f64, sums to 1
  // Accuracy of each training row's prediction by the trees that did not see it (needs oob_score).
  double oob_score_() const;
  Tensor oob_decision_function_() const;  // (N, K) f64: those out-of-bag mean probabilities
  const std::vector<detail::Tree>& estimators_() const;
  const Params& params() const { return params_; }

 private:
  Params params_;
  bool fitted_ = false;
  int64_t n_features_ = 0;
  std::vector<int64_t> classes_;
  std::vector<detail::Tree> trees_;
  std::vector<double> importances_, oob_proba_;
  double oob_score_value_ = 0;
};

class RandomForestRegressor : public Regressor {
 public:
  struct Params {
    int64_t n_estimators = 100;
    std::string criterion = "squared_error";
    int64_t max_depth = -1;
    int64_t min_samples_split = 2;
    int64_t min_samples_leaf = 1;
    ParamValue max_features = 1.0;  // scikit-learn 1.2's default: all features
    double min_impurity_decrease = 0.0;
    bool bootstrap = true;
    bool oob_score = false;
    int64_t n_jobs = 0;
    int64_t random_state = 0;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("n_estimators", n_estimators);
      visit("criterion", criterion);
      visit("max_depth", max_depth);
      visit("min_samples_split", min_samples_split);
      visit("min_samples_leaf", min_samples_leaf);
      visit("max_features", max_features);
      visit("min_impurity_decrease", min_impurity_decrease);
      visit("bootstrap", bootstrap);
      visit("oob_score", oob_score);
      visit("n_jobs", n_jobs);
      visit("random_state", random_state);
    }
  };
  RandomForestRegressor();
  explicit RandomForestRegressor(Params params);

  std::string name() const override { return "RandomForestRegressor"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override {
    return std::make_unique<RandomForestRegressor>(params_);
  }
  bool is_fitted() const override { return fitted_; }

  RandomForestRegressor& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;                 // (N) f64: mean of the trees' predictions
  double score(const Tensor& X, const Tensor& y) const override;  // R^2

  Tensor feature_importances_() const;
  double oob_score_() const;  // R^2 of the out-of-bag predictions (needs oob_score)
  Tensor oob_prediction_() const;
  const std::vector<detail::Tree>& estimators_() const;
  const Params& params() const { return params_; }

 private:
  Params params_;
  bool fitted_ = false;
  int64_t n_features_ = 0;
  std::vector<detail::Tree> trees_;
  std::vector<double> importances_, oob_pred_;
  double oob_score_value_ = 0;
};

}  // namespace kiln::classic
