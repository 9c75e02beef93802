// kiln/classic/tree.h: DecisionTreeClassifier and DecisionTreeRegressor (CART), with scikit-learn's
// parameters, defaults and semantics: exact best splits at midpoints between consecutive distinct float32
// feature values, impurity-decrease feature importances normalized to sum to 1. Depends on estimator.h
// and tree_builder.h.
//
// X: (N, D) floating or integer, finite (compared in float32 like scikit-learn). Classifier y: (N) integer
// labels (any values; classes() sorts them). Regressor y: (N) floating. sample_weight: (N), >= 0.
// Parameters by name (get_params / set_params): criterion, max_depth (-1 = unlimited), min_samples_split,
// min_samples_leaf, max_features (int count, double fraction, "sqrt", "log2", "none"),
// min_impurity_decrease, class_weight (classifier: "" or "balanced"), random_state.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"
#include "kiln/classic/tree_builder.h"

namespace kiln::classic {

class DecisionTreeClassifier : public Classifier {
 public:
  struct Params {
    std::string criterion = "gini";  // "gini", "entropy" (or its alias "log_loss")
    int64_t max_depth = -1;
    int64_t min_samples_split = 2;
    int64_t min_samples_leaf = 1;
    ParamValue max_features = std::string("none");
    double min_impurity_decrease = 0.0;
    std::string class_weight = "";  // "" or "balanced"
    int64_t random_state = 0;       // draws the features tried per node when max_features < D
    template <class Visit>
    void fields(Visit&& visit) {
      visit("criterion", criterion);
      visit("max_depth", max_depth);
      visit("min_samples_split", min_samples_split);
      visit("min_samples_leaf", min_samples_leaf);
      visit("max_features", max_features);
      visit("min_impurity_decrease", min_impurity_decrease);
      visit("class_weight", class_weight);
      visit("random_state", random_state);
    }
  };
  DecisionTreeClassifier();  // default Params (a nested struct cannot be a default argument here)
  explicit DecisionTreeClassifier(Params params);

  std::string name() const override { return "DecisionTreeClassifier"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override {
    return std::make_unique<DecisionTreeClassifier>(params_);
  }
  bool is_fitted() const override { return fitted_; }

  DecisionTreeClassifier& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;        // (N) i64 labels
  Tensor predict_proba(const Tensor& X) const override;  // (N, K) f64
  double score(const Tensor& X, const Tensor& y) const override;
  Tensor classes() const override;

  Tensor apply(const Tensor& X) const;  // (N) i64: the leaf (node index) each row reaches
  Tensor feature_importances_() const;  // (D) f64, sums to 1 (all 0 for a single-leaf tree)
  int64_t get_depth() const;
  int64_t get_n_leaves() const;
  // The fitted nodes (scikit-learn's tree_): children, feature, threshold, impurity, value per node.
  const detail::Tree& tree_() const;
  const Params& params() const { return params_; }

 private:
  Params params_;
  bool fitted_ = false;
  int64_t n_features_ = 0;
  std::vector<int64_t> classes_;
  detail::Tree tree_data_;
  std::vector<double> importances_;
};

class DecisionTreeRegressor : public Regressor {
 public:
  struct Params {
    std::string criterion = "squared_error";
    int64_t max_depth = -1;
    int64_t min_samples_split = 2;
    int64_t min_samples_leaf = 1;
    ParamValue max_features = std::string("none");
    double min_impurity_decrease = 0.0;
    int64_t random_state = 0;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("criterion", criterion);
      visit("max_depth", max_depth);
      visit("min_samples_split", min_samples_split);
      visit("min_samples_leaf", min_samples_leaf);
      visit("max_features", max_features);
      visit("min_impurity_decrease", min_impurity_decrease);
      visit("random_state", random_state);
    }
  };
  DecisionTreeRegressor();  // default Params (a nested struct cannot be a default argument here)
  explicit DecisionTreeRegressor(Params params);

  std::string name() const override { return "DecisionTreeRegressor"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override {
    return std::make_unique<DecisionTreeRegressor>(params_);
  }
  bool is_fitted() const override { return fitted_; }

  DecisionTreeRegressor& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;                 // (N) f64
  double score(const Tensor& X, const Tensor& y) const override;  // R^2

  Tensor apply(const Tensor& X) const;
  Tensor feature_importances_() const;
  int64_t get_depth() const;
  int64_t get_n_leaves() const;
  const detail::Tree& tree_() const;
  const Params& params() const { return params_; }

 private:
  Params params_;
  bool fitted_ = false;
  int64_t n_features_ = 0;
  detail::Tree tree_data_;
  std::vector<double> importances_;
};

namespace detail {
// Checks the parameters shared by trees and forests; `who` names the estimator in messages.
void check_tree_params(int64_t max_depth, int64_t min_samples_split, int64_t min_samples_leaf,
                       double min_impurity_decrease, const ParamValue& max_features, const std::string& who);
Criterion parse_criterion(const std::string& criterion, bool classifier, const std::string& who);
// One tree's impurity-decrease importances divided by its root weight and scaled to sum to 1
// (scikit-learn's normalization); all zeros for a single-leaf tree.
std::vector<double> normalized_importances(const Tree& tree, int64_t n_features);
// scikit-learn's r2_score: 1 - SSE / SST; for a constant y, 1 if the predictions are exact, else 0.
double r2(const std::vector<double>& y, const std::vector<double>& pred);
}  // namespace detail

}  // namespace kiln::classic
