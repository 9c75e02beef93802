// kiln/classic/neighbors.cpp: KNeighborsClassifier and KNeighborsRegressor (neighbors.h). Exact distances
// (no |a|^2 - 2ab + |b|^2 shortcut, which loses digits and reorders near-ties); each query keeps its k
// smallest (distance, row) pairs with a partial sort.
#include "kiln/classic/neighbors.h"

#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kiln/classic/linear_detail.h"
#include "kiln/tensor/threads.h"

namespace kiln::classic {
namespace {

int threads_for(std::int64_t n_jobs) {
  return n_jobs > 0 ? static_cast<int>(n_jobs) : kiln::get_num_threads();
}

}  // namespace

ParamMap KNeighborsBase::get_params() const {
  return {{"n_neighbors", p_.n_neighbors}, {"weights", p_.weights}, {"p", p_.p}, {"n_jobs", p_.n_jobs}};
}

void KNeighborsBase::set_params(const ParamMap& params) {
  KNeighborsParams q = p_;
  for (const auto& [k, v] : params) {
    if (k == "n_neighbors")
      detail::assign_param(name(), k, v, q.n_neighbors);
    else if (k == "weights")
      detail::assign_param(name(), k, v, q.weights);
    else if (k == "p")
      detail::assign_param(name(), k, v, q.p);
    else if (k == "n_jobs")
      detail::assign_param(name(), k, v, q.n_jobs);
    else
      detail::unknown_param(name(), k, get_params());
  }
  p_ = q;
}

void KNeighborsBase::fit_data(const Tensor& X, const std::string& who) {
  KILN_CHECK(p_.n_neighbors >= 1, who, ": n_neighbors must be >= 1, got ", p_.n_neighbors);
  KILN_CHECK(p_.weights == "uniform" || p_.weights == "distance", who,
             ": weights must be \"uniform\" or \"distance\", got \"", p_.weights, "\"");
  KILN_CHECK(p_.p == 1 || p_.p == 2, who, ": p must be 1 or 2, got ", p_.p);
  detail::RowMatrix x = detail::to_row_matrix(X, who);
  n_train_ = x.rows();
  n_features_ = x.cols();
  train_.assign(x.data(), x.data() + x.size());
}

void KNeighborsBase::search(const Tensor& X, std::int64_t k, const std::string& who,
                            std::vector<double>& dist, std::vector<std::int64_t>& ind) const {
  detail::check_fitted(fitted_, who);
  KILN_CHECK(k >= 1 && k <= n_train_, who, ": n_neighbors = ", k, " must be between 1 and the ", n_train_,
             " training samples");
  detail::RowMatrix q = detail::to_row_matrix(X, who);
  detail::check_features(q.cols(), n_features_, who);
  const std::int64_t n = q.rows(), d = n_features_;
  dist.assign(n * k, 0.0);
  ind.assign(n * k, 0);
  const bool manhattan = p_.p == 1;
#pragma omp parallel num_threads(threads_for(p_.n_jobs))
  {
    std::vector<std::pair<double, std::int64_t>> all(n_train_);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const double* qi = q.data() + i * d;
      for (std::int64_t t = 0; t < n_train_; ++t) {
        const double* xt = train_.data() + t * d;
        double s = 0;
        if (manhattan) {
          for (std::int64_t j = 0; j < d; ++j) s += std::abs(qi[j] - xt[j]);
        } else {
          for (std::int64_t j = 0; j < d; ++j) s += (qi[j] - xt[j]) * (qi[j] - xt[j]);
        }
        all[t] = {s, t};
      }
      std::partial_sort(all.begin(), all.begin() + k, all.end());
      for (std::int64_t j = 0; j < k; ++j) {
        dist[i * k + j] = manhattan ? all[j].first : std::sqrt(all[j].first);
        ind[i * k + j] = all[j].second;
      }
    }
  }
}

void KNeighborsBase::neighbor_weights(const double* dist, std::int64_t k, double* w) const {
  if (p_.weights == "uniform") {
    std::fill(w, w + k, 1.0);
    return;
  }
  bool exact = false;
  for (std::int64_t j = 0; j < k; ++j) exact = exact || dist[j] == 0;
  for (std::int64_t j = 0; j < k; ++j) w[j] = exact ? (dist[j] == 0 ? 1.0 : 0.0) : 1.0 / dist[j];
}

std::pair<Tensor, Tensor> KNeighborsBase::kneighbors(const Tensor& X, std::int64_t n_neighbors) const {
  const std::int64_t k = n_neighbors > 0 ? n_neighbors : p_.n_neighbors;
  std::vector<double> dist;
  std::vector<std::int64_t> ind;
  search(X, k, name() + ".kneighbors", dist, ind);
  const std::int64_t n = static_cast<std::int64_t>(dist.size()) / k;
  return {from_vector(dist, Shape{n, k}), from_vector(ind, Shape{n, k})};
}

// ---- classifier ----

KNeighborsClassifier& KNeighborsClassifier::fit(const Tensor& X, const Tensor& y,
                                                const Tensor& sample_weight) {
  const std::string who = "KNeighborsClassifier.fit";
  KILN_CHECK(!sample_weight.defined(), who, ": sample_weight is not supported (as in scikit-learn)");
  fit_data(X, who);
  detail::Encoded enc = detail::encode_labels(detail::to_labels(y, n_train_, who));
  classes_ = enc.classes;
  y_index_ = enc.index;
  fitted_ = true;
  return *this;
}

Tensor KNeighborsClassifier::predict_proba(const Tensor& X) const {
  const std::int64_t k = p_.n_neighbors;
  std::vector<double> dist;
  std::vector<std::int64_t> ind;
  search(X, k, "KNeighborsClassifier.predict_proba", dist, ind);
  const std::int64_t n = static_cast<std::int64_t>(dist.size()) / k,
                     c = static_cast<std::int64_t>(classes_.size());
  std::vector<double> proba(n * c, 0.0), w(k);
  for (std::int64_t i = 0; i < n; ++i) {
    neighbor_weights(dist.data() + i * k, k, w.data());
    double total = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      proba[i * c + y_index_[ind[i * k + j]]] += w[j];
      total += w[j];
    }
    for (std::int64_t l = 0; l < c; ++l) proba[i * c + l] /= total;
  }
  return from_vector(proba, Shape{n, c});
}

Tensor KNeighborsClassifier::predict(const Tensor& X) const {
  detail::check_fitted(fitted_, "KNeighborsClassifier.predict");
  std::vector<double> proba = predict_proba(X).to_vector<double>();
  const std::int64_t c = static_cast<std::int64_t>(classes_.size()),
                     n = static_cast<std::int64_t>(proba.size()) / c;
  std::vector<std::int64_t> out(n);
  for (std::int64_t i = 0; i < n; ++i) {
    // The first of tied classes wins, as scikit-learn's mode takes the smallest label.
    const double* row = proba.data() + i * c;
    out[i] = classes_[std::max_element(row, row + c) - row];
  }
  return from_vector(out);
}

double KNeighborsClassifier::score(const Tensor& X, const Tensor& y) const {
  std::vector<std::int64_t> pred = predict(X).to_vector<std::int64_t>();
  std::vector<std::int64_t> truth =
      detail::to_labels(y, static_cast<std::int64_t>(pred.size()), "KNeighborsClassifier.score");
  std::int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor KNeighborsClassifier::classes() const {
  detail::check_fitted(fitted_, "KNeighborsClassifier.classes");
  return from_vector(classes_);
}

// ---- regressor ----

KNeighborsRegressor& KNeighborsRegressor::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = "KNeighborsRegressor.fit";
  KILN_CHECK(!sample_weight.defined(), who, ": sample_weight is not supported (as in scikit-learn)");
  fit_data(X, who);
  Eigen::VectorXd t = detail::to_targets(y, n_train_, who);
  y_.assign(t.data(), t.data() + t.size());
  fitted_ = true;
  return *this;
}

Tensor KNeighborsRegressor::predict(const Tensor& X) const {
  const std::int64_t k = p_.n_neighbors;
  std::vector<double> dist;
  std::vector<std::int64_t> ind;
  search(X, k, "KNeighborsRegressor.predict", dist, ind);
  const std::int64_t n = static_cast<std::int64_t>(dist.size()) / k;
  std::vector<double> out(n), w(k);
  for (std::int64_t i = 0; i < n; ++i) {
    neighbor_weights(dist.data() + i * k, k, w.data());
    double num = 0, den = 0;
    for (std::int64_t j = 0; j < k; ++j) {
      num += w[j] * y_[ind[i * k + j]];
      den += w[j];
    }
    out[i] = num / den;
  }
  return from_vector(out);
}

double KNeighborsRegressor::score(const Tensor& X, const Tensor& y) const {
  Tensor pred = predict(X);
  const std::int64_t n = pred.shape()[0];
  return detail::r2(detail::to_targets(y, n, "KNeighborsRegressor.score"),
                    detail::to_targets(pred, n, "KNeighborsRegressor.score"));
}

}  // namespace kiln::classic
