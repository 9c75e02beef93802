// kiln/classic/neighbors.h: k-nearest-neighbour classification and regression by brute force (every query
// against every training row, OpenMP over queries), with scikit-learn's semantics. Depends on
// classic/estimator.h (tensor/ only).
//
// Shapes: X (N, D) floating; classifier y (N) integer labels, regressor y (N) floating.
// Distances are Minkowski with p = 1 (Manhattan) or 2 (Euclidean). Neighbours are ordered by distance, ties
// by training row. weights "uniform" counts each neighbour once; "distance" weighs it by 1 / distance, and a
// query that coincides with training rows (distance 0) takes only those rows, as scikit-learn does.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "kiln/classic/estimator.h"

namespace kiln::classic {

struct KNeighborsParams {
  std::int64_t n_neighbors = 5;
  std::string weights = "uniform";  // "uniform" or "distance"
  std::int64_t p = 2;               // 1 or 2
  std::int64_t n_jobs = 0;          // threads; 0 = kiln::get_num_threads()
  template <class Visit>
  void fields(Visit&& visit) {
    visit("n_neighbors", n_neighbors);
    visit("weights", weights);
    visit("p", p);
    visit("n_jobs", n_jobs);
  }
};

// The fitted data and the neighbour search shared by the classifier and the regressor.
class KNeighborsBase : public virtual Estimator {
 public:
  ParamMap get_params() const override { return params::to_map(p_); }
  void set_params(const ParamMap& params) override { params::assign(p_, params, name()); }
  bool is_fitted() const override { return fitted_; }
  // The n_neighbors (0: the fitted n_neighbors) nearest training rows of each query: distances (N, k) f64
  // and training row indices (N, k) i64, nearest first.
  std::pair<Tensor, Tensor> kneighbors(const Tensor& X, std::int64_t n_neighbors = 0) const;

 protected:
  explicit KNeighborsBase(KNeighborsParams p) : p_(std::move(p)) {}
  void fit_data(const Tensor& X, const std::string& who);
  // Neighbour search into flat (N, k) arrays.
  void search(const Tensor& X, std::int64_t k, const std::string& who, std::vector<double>& dist,
              std::vector<std::int64_t>& ind) const;
  // Per-neighbour weights for one query's k distances.
  void neighbor_weights(const double* dist, std::int64_t k, double* w) const;

  KNeighborsParams p_;
  bool fitted_ = false;
  std::vector<double> train_;  // (N_train, D) row-major
  std::int64_t n_train_ = 0, n_features_ = 0;
};

class KNeighborsClassifier : public Classifier, public KNeighborsBase {
 public:
  using Params = KNeighborsParams;
  KNeighborsClassifier() : KNeighborsClassifier(Params{}) {}
  explicit KNeighborsClassifier(Params p) : KNeighborsBase(std::move(p)) {}
  std::string name() const override { return "KNeighborsClassifier"; }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<KNeighborsClassifier>(p_); }
  const Params& params() const { return p_; }

  // sample_weight is not supported (as in scikit-learn); passing one is an error.
  KNeighborsClassifier& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;        // (N) i64
  Tensor predict_proba(const Tensor& X) const override;  // (N, K) f64
  double score(const Tensor& X, const Tensor& y) const override;
  Tensor classes() const override;

 private:
  std::vector<std::int64_t> classes_;
  std::vector<std::int64_t> y_index_;  // class index of each training row
};

class KNeighborsRegressor : public Regressor, public KNeighborsBase {
 public:
  using Params = KNeighborsParams;
  KNeighborsRegressor() : KNeighborsRegressor(Params{}) {}
  explicit KNeighborsRegressor(Params p) : KNeighborsBase(std::move(p)) {}
  std::string name() const override { return "KNeighborsRegressor"; }
  std::unique_ptr<Estimator> clone() const override { return std::make_unique<KNeighborsRegressor>(p_); }
  const Params& params() const { return p_; }

  KNeighborsRegressor& fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight = {}) override;
  Tensor predict(const Tensor& X) const override;                 // (N) f64
  double score(const Tensor& X, const Tensor& y) const override;  // R^2

 private:
  std::vector<double> y_;
};

}  // namespace kiln::classic
