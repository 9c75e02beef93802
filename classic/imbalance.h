// kiln/classic/imbalance.h: class imbalance tools. compute_class_weight / compute_sample_weight follow
// scikit-learn 1.2; SMOTE and RandomUnderSampler follow imbalanced-learn's semantics (sampling_strategy,
// k_neighbors, random_state) and are Resamplers, so a Pipeline applies them to the training rows only.
// Depends on classic/estimator.h.
//
// Shapes: X is (N, D) numeric, y (N) integer labels. fit_resample returns (X' (N', D) f64, y' (N') i64):
// SMOTE keeps the N original rows first and appends the synthetic rows class by class (sorted labels);
// RandomUnderSampler returns the kept rows grouped by class (sorted labels), in original order within a
// class.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

// "balanced": n_samples / (n_classes * count(c)) for each c in classes (every class must occur in y, and
// every label of y must be in classes). Returns (K) f64 in the order of `classes` (1-D integer).
Tensor compute_class_weight(const std::string& class_weight, const Tensor& classes, const Tensor& y);
// Explicit weights; classes missing from the map weigh 1. A key that is not in classes is an error.
Tensor compute_class_weight(const std::map<int64_t, double>& class_weight, const Tensor& classes,
                            const Tensor& y);
// The weight of each sample's class: (N) f64.
Tensor compute_sample_weight(const std::string& class_weight, const Tensor& y);
Tensor compute_sample_weight(const std::map<int64_t, double>& class_weight, const Tensor& y);

// How many samples each class should have after resampling (imbalanced-learn's sampling_strategy). One of:
//  - sampling_counts non-empty: the target count of each listed class;
//  - sampling_ratio > 0 (binary y only): minority / majority ratio to reach;
//  - otherwise sampling_strategy: "auto", "minority", "majority", "not minority", "not majority", "all".
//    "auto" means "not majority" for over-sampling and "not minority" for under-sampling.
struct SamplingStrategy {
  std::string sampling_strategy = "auto";
  double sampling_ratio = 0.0;
  std::map<int64_t, int64_t> sampling_counts = {};
};

class SMOTE : public Resampler {
 public:
  struct Params {
    std::string sampling_strategy = "auto";
    double sampling_ratio = 0.0;
    std::map<int64_t, int64_t> sampling_counts = {};
    int64_t k_neighbors = 5;
    int64_t random_state = 0;
    int64_t n_jobs = 0;  // threads for the neighbour search; 0 = kiln::get_num_threads()
  };
  SMOTE() : SMOTE(Params{}) {}
  explicit SMOTE(Params params) : params_(std::move(params)) {}

  std::string name() const override { return "SMOTE"; }
  // sampling_strategy (a string, or a double that sets sampling_ratio), k_neighbors, random_state, n_jobs.
  // sampling_counts is not a ParamMap value; set it through Params.
  ParamMap get_params() const override;
  void set_params(const ParamMap& params) override;
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<SMOTE>(params_); }
  bool is_fitted() const override { return fitted_; }

  // Each synthetic row is x_i + u * (x_nn - x_i): x_i a random row of its class, x_nn one of its
  // k_neighbors nearest (Euclidean) rows of the same class, u ~ U[0, 1).
  std::pair<Tensor, Tensor> fit_resample(const Tensor& X, const Tensor& y) override;

  const Params& params() const { return params_; }
  // The number of synthetic rows made for each class in the last fit_resample.
  const std::map<int64_t, int64_t>& sampling_strategy_() const;

 private:
  Params params_;
  bool fitted_ = false;
  std::map<int64_t, int64_t> n_new_ = {};
};

class RandomUnderSampler : public Resampler {
 public:
  struct Params {
    std::string sampling_strategy = "auto";
    double sampling_ratio = 0.0;
    std::map<int64_t, int64_t> sampling_counts = {};
    bool replacement = false;
    int64_t random_state = 0;
  };
  RandomUnderSampler() : RandomUnderSampler(Params{}) {}
  explicit RandomUnderSampler(Params params) : params_(std::move(params)) {}

  std::string name() const override { return "RandomUnderSampler"; }
  ParamMap get_params() const override;
  void set_params(const ParamMap& params) override;
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<RandomUnderSampler>(params_); }
  bool is_fitted() const override { return fitted_; }

  std::pair<Tensor, Tensor> fit_resample(const Tensor& X, const Tensor& y) override;

  const Params& params() const { return params_; }
  // The number of rows kept of each resampled class, and the (N') i64 indices of the rows returned.
  const std::map<int64_t, int64_t>& sampling_strategy_() const;
  Tensor sample_indices_() const;

 private:
  Params params_;
  bool fitted_ = false;
  std::map<int64_t, int64_t> n_keep_ = {};
  std::vector<int64_t> indices_ = {};
};

namespace prep_detail {
// Per-class sample counts to add (over-sampling) or to keep (under-sampling), as imbalanced-learn's
// check_sampling_strategy. `who` prefixes errors.
std::map<int64_t, int64_t> sampling_targets(const SamplingStrategy& s,
                                            const std::map<int64_t, int64_t>& counts, bool over,
                                            const std::string& who);
}  // namespace prep_detail

}  // namespace kiln::classic
