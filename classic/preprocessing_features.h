// kiln/classic/preprocessing_features.h: SimpleImputer and PolynomialFeatures with scikit-learn's
// semantics (1.2). Missing values are NaN. Depends on classic/estimator.h.
//
// Shapes: X is (N, D). SimpleImputer gives (N, D') f64 where D' = D minus the features that were all
// missing in fit (dropped, as scikit-learn does unless keep_empty_features). PolynomialFeatures gives
// (N, K) f64, K = n_output_features_(), columns in scikit-learn's order (by degree, then lexicographic).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

class SimpleImputer : public Transformer {
 public:
  struct Params {
    std::string strategy = "mean";     // "mean", "median", "most_frequent" (smallest on ties) or "constant"
    double fill_value = 0.0;           // for "constant"
    bool keep_empty_features = false;  // keep all-missing features (filled with 0, or fill_value)
    template <class Visit>
    void fields(Visit&& visit) {
      visit("strategy", strategy);
      visit("fill_value", fill_value);
      visit("keep_empty_features", keep_empty_features);
    }
  };
  SimpleImputer() : SimpleImputer(Params{}) {}
  explicit SimpleImputer(Params params) : params_(std::move(params)) {}

  std::string name() const override { return "SimpleImputer"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<SimpleImputer>(params_); }
  bool is_fitted() const override { return fitted_; }

  SimpleImputer& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;

  const Params& params() const { return params_; }
  // (D) f64: the fill value of each input feature (NaN for a feature that will be dropped).
  Tensor statistics_() const;

 private:
  Params params_;
  bool fitted_ = false;
  std::vector<double> statistics_v_;
};

class PolynomialFeatures : public Transformer {
 public:
  struct Params {
    int64_t degree = 2;
    bool interaction_only = false;  // only products of distinct features
    bool include_bias = true;       // a leading column of ones
    template <class Visit>
    void fields(Visit&& visit) {
      visit("degree", degree);
      visit("interaction_only", interaction_only);
      visit("include_bias", include_bias);
    }
  };
  PolynomialFeatures() : PolynomialFeatures(Params{}) {}
  explicit PolynomialFeatures(Params params) : params_(params) {}

  std::string name() const override { return "PolynomialFeatures"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<PolynomialFeatures>(params_); }
  bool is_fitted() const override { return fitted_; }

  PolynomialFeatures& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;

  const Params& params() const { return params_; }
  int64_t n_output_features_() const;
  // (K, D) i64: the exponent of each input feature in each output column.
  Tensor powers_() const;

 private:
  Params params_;
  bool fitted_ = false;
  int64_t n_features_in_ = 0;
  std::vector<std::vector<int64_t>> combos_;  // each output column: the input features multiplied
};

}  // namespace kiln::classic
