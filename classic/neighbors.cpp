// kiln/classic/neighbors.cpp: KNeighborsClassifier and KNeighborsRegressor (neighbors.h). Distances are
// exact (Euclidean ones found through a matrix product and then re-measured, see euclidean_search); each
// query keeps its k smallest (distance, row) pairs.
#include "kiln/classic/neighbors.h"
#include "kiln/classic/validation.h"

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

// Squared distances of a block of queries to every training row come from one matrix product
// (|q|^2 - 2 q.x + |x|^2), which is fast but rounds; every row within that rounding bound of the k-th
// smallest is then measured exactly and the k nearest are picked by (exact distance, row). So distances and
// tie order equal the direct computation, at the speed of the product.
void euclidean_search(const linear_detail::RowMatrix& q, const std::vector<double>& train, std::int64_t nt,
                      std::int64_t k, int threads, std::vector<double>& dist,
                      std::vector<std::int64_t>& ind) {
  const std::int64_t n = q.rows(), d = q.cols();
  Eigen::Map<const linear_detail::RowMatrix> T(train.data(), nt, d);
  const Eigen::VectorXd tn = T.rowwise().squaredNorm();
  const double tn_max = tn.maxCoeff();
  // A generous bound on the product's rounding error, relative to |q|^2 + |x|^2.
  const double rel = 8.0 * static_cast<double>(d + 2) * 2.220446049250313e-16;
  constexpr std::int64_t kBlock = 64;
  const std::int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> approx(nt), sorted(nt);
    std::vector<std::pair<double, std::int64_t>> cand;
#pragma omp for schedule(dynamic)
    for (std::int64_t b = 0; b < blocks; ++b) {
      const std::int64_t i0 = b * kBlock, m = std::min(kBlock, n - i0);
      const linear_detail::RowMatrix G = q.middleRows(i0, m) * T.transpose();  // (m, N_train)
      for (std::int64_t r = 0; r < m; ++r) {
        const std::int64_t i = i0 + r;
        const auto qi = q.row(i);
        const double qn = qi.squaredNorm();
        for (std::int64_t t = 0; t < nt; ++t) approx[t] = qn + tn[t] - 2.0 * G(r, t);
        sorted = approx;
        std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end());
        const double cutoff = sorted[k - 1] + 2.0 * rel * (qn + tn_max);
        cand.clear();
        for (std::int64_t t = 0; t < nt; ++t)
          if (approx[t] <= cutoff) cand.push_back({(T.row(t) - qi).squaredNorm(), t});
        std::partial_sort(cand.begin(), cand.begin() + k, cand.end());
        for (std::int64_t j = 0; j < k; ++j) {
          dist[i * k + j] = std::sqrt(cand[j].first);
          ind[i * k + j] = cand[j].second;
        }
      }
    }
  }
}

}  // namespace

void KNeighborsBase::fit_data(const Tensor& X, const std::string& who) {
  KILN_CHECK(p_.n_neighbors >= 1, who, ": n_neighbors must be >= 1, got ", p_.n_neighbors);
  KILN_CHECK(p_.weights == "uniform" || p_.weights == "distance", who,
             ": weights must be \"uniform\" or \"distance\", got \"", p_.weights, "\"");
  KILN_CHECK(p_.p == 1 || p_.p == 2, who, ": p must be 1 or 2, got ", p_.p);
  linear_detail::RowMatrix x = linear_detail::to_row_matrix(X, who);
  n_train_ = x.rows();
  n_features_ = x.cols();
  train_.assign(x.data(), x.data() + x.size());
}

void KNeighborsBase::search(const Tensor& X, std::int64_t k, const std::string& who,
                            std::vector<double>& dist, std::vector<std::int64_t>& ind) const {
  validation::check_fitted(fitted_, who);
  KILN_CHECK(k >= 1 && k <= n_train_, who, ": n_neighbors = ", k, " must be between 1 and the ", n_train_,
             " training samples");
  linear_detail::RowMatrix q = linear_detail::to_row_matrix(X, who);
  linear_detail::check_features(q.cols(), n_features_, who);
  const std::int64_t n = q.rows(), d = n_features_;
  dist.assign(n * k, 0.0);
  ind.assign(n * k, 0);
  if (p_.p == 2) {
    euclidean_search(q, train_, n_train_, k, threads_for(p_.n_jobs), dist, ind);
    return;
  }
#pragma omp parallel num_threads(threads_for(p_.n_jobs))
  {
    std::vector<std::pair<double, std::int64_t>> all(n_train_);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < n; ++i) {
      const double* qi = q.data() + i * d;
      for (std::int64_t t = 0; t < n_train_; ++t) {
        const double* xt = train_.data() + t * d;
        double s = 0;
        for (std::int64_t j = 0; j < d; ++j) s += std::abs(qi[j] - xt[j]);
        all[t] = {s, t};
      }
      std::partial_sort(all.begin(), all.begin() + k, all.end());
      for (std::int64_t j = 0; j < k; ++j) {
        dist[i * k + j] = all[j].first;
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
  linear_detail::Encoded enc = linear_detail::encode_labels(linear_detail::to_labels(y, n_train_, who));
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
  validation::check_fitted(fitted_, "KNeighborsClassifier.predict");
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
      linear_detail::to_labels(y, static_cast<std::int64_t>(pred.size()), "KNeighborsClassifier.score");
  std::int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor KNeighborsClassifier::classes() const {
  validation::check_fitted(fitted_, "KNeighborsClassifier.classes");
  return from_vector(classes_);
}

// ---- regressor ----

KNeighborsRegressor& KNeighborsRegressor::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = "KNeighborsRegressor.fit";
  KILN_CHECK(!sample_weight.defined(), who, ": sample_weight is not supported (as in scikit-learn)");
  fit_data(X, who);
  Eigen::VectorXd t = linear_detail::to_targets(y, n_train_, who);
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
  return linear_detail::r2(linear_detail::to_targets(y, n, "KNeighborsRegressor.score"),
                           linear_detail::to_targets(pred, n, "KNeighborsRegressor.score"));
}

}  // namespace kiln::classic
