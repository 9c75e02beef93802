// kiln/classic/preprocessing_scalers.h: StandardScaler, MinMaxScaler, RobustScaler with scikit-learn's
// semantics (1.2): statistics per feature learned in fit() on the rows given, NaN ignored in fit and
// passed through by transform, near-constant features scaled by 1. Depends on classic/estimator.h.
//
// Shapes: X is (N, D), any numeric dtype; transform returns a new (N, D) f64 tensor. Fitted statistics
// are (D) f64 tensors.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

// (x - mean) / std, with the population standard deviation.
class StandardScaler : public Transformer {
 public:
  struct Params {
    bool with_mean = true;
    bool with_std = true;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("with_mean", with_mean);
      visit("with_std", with_std);
    }
  };
  StandardScaler() : StandardScaler(Params{}) {}
  explicit StandardScaler(Params params) : params_(params) {}

  std::string name() const override { return "StandardScaler"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<StandardScaler>(params_); }
  bool is_fitted() const override { return fitted_; }

  StandardScaler& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;
  Tensor inverse_transform(const Tensor& X) const;

  const Params& params() const { return params_; }
  Tensor mean_() const;   // (D) per-feature mean of the non-NaN values
  Tensor var_() const;    // (D) population variance
  Tensor scale_() const;  // (D) std with near-constant features set to 1 (ones when with_std is false)
  int64_t n_samples_seen_() const;
  // n_samples_seen, mean, var, scale.
  StateDict fitted_state() const override;
  void load_fitted_state(const StateDict& state) override;

 private:
  Params params_;
  bool fitted_ = false;
  int64_t n_seen_ = 0;
  std::vector<double> mean_v_, var_v_, scale_v_;
};

// (x - min) / (max - min) * (hi - lo) + lo, per feature.
class MinMaxScaler : public Transformer {
 public:
  struct Params {
    double feature_min = 0.0;  // scikit-learn's feature_range=(feature_min, feature_max)
    double feature_max = 1.0;
    bool clip = false;  // clip transformed values to the feature range
    template <class Visit>
    void fields(Visit&& visit) {
      visit("feature_min", feature_min);
      visit("feature_max", feature_max);
      visit("clip", clip);
    }
  };
  MinMaxScaler() : MinMaxScaler(Params{}) {}
  explicit MinMaxScaler(Params params) : params_(params) {}

  std::string name() const override { return "MinMaxScaler"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<MinMaxScaler>(params_); }
  bool is_fitted() const override { return fitted_; }

  MinMaxScaler& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;
  Tensor inverse_transform(const Tensor& X) const;

  const Params& params() const { return params_; }
  Tensor data_min_() const;
  Tensor data_max_() const;
  Tensor scale_() const;
  Tensor min_() const;

 private:
  Params params_;
  bool fitted_ = false;
  std::vector<double> data_min_v_, data_max_v_, scale_v_, min_v_;
};

// (x - median) / (q_max - q_min), quantiles as numpy's percentile with linear interpolation.
class RobustScaler : public Transformer {
 public:
  struct Params {
    bool with_centering = true;
    bool with_scaling = true;
    double quantile_min = 25.0;  // scikit-learn's quantile_range=(quantile_min, quantile_max), in percent
    double quantile_max = 75.0;
    template <class Visit>
    void fields(Visit&& visit) {
      visit("with_centering", with_centering);
      visit("with_scaling", with_scaling);
      visit("quantile_min", quantile_min);
      visit("quantile_max", quantile_max);
    }
  };
  RobustScaler() : RobustScaler(Params{}) {}
  explicit RobustScaler(Params params) : params_(params) {}

  std::string name() const override { return "RobustScaler"; }
  ParamMap get_params() const override { return params::to_map(params_); }
  void set_params(const ParamMap& params) override { params::assign(params_, params, name()); }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<RobustScaler>(params_); }
  bool is_fitted() const override { return fitted_; }

  RobustScaler& fit(const Tensor& X, const Tensor& y = {}) override;
  Tensor transform(const Tensor& X) const override;
  Tensor inverse_transform(const Tensor& X) const;

  const Params& params() const { return params_; }
  Tensor center_() const;
  Tensor scale_() const;

 private:
  Params params_;
  bool fitted_ = false;
  std::vector<double> center_v_, scale_v_;
};

namespace prep_detail {
// numpy.percentile(values, q) with the default linear method, ignoring NaN (NaN when all are NaN).
double nan_percentile(std::vector<double> values, double q);
}  // namespace prep_detail

}  // namespace kiln::classic
