// kiln/classic/logistic.cpp: LogisticRegression (logistic.h): the binary and multinomial losses with their
// gradients, the class and sample weights, one-vs-rest, and the convergence report. The optimizer is
// logistic_lbfgs.cpp.
#include "kiln/classic/logistic.h"
#include "kiln/classic/validation.h"

#include "kiln/classic/estimator_state.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <sstream>

#include "kiln/classic/linear_detail.h"
#include "kiln/classic/logistic_lbfgs_detail.h"
#include "kiln/tensor/threads.h"

namespace kiln::classic {
namespace {

double log1pexp(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }
double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

// The loss and its gradient in one pass over the rows of X (row-major): per row, the K' scores are dot
// products with the coefficient rows and the gradient gets K' axpy updates with the same row, so each
// row of X is read from memory once per evaluation while it sits in cache (a GEMM would re-pack all of X
// at every evaluation, which dominated the time with K' <= 10 output columns). Rows are split statically
// over the threads and the per-thread sums are added in thread order, so a fixed thread count gives
// identical results run to run.
//
// theta = [W (R, D) row-major, b (R)] with R = 1 (binary: labels y01 in {0, 1}) or K (multinomial: class
// indices yk). The L2 term lambda / 2 |W|^2 is added here too.
class LogisticLoss {
 public:
  LogisticLoss(const linear_detail::RowMatrix& X, const Eigen::VectorXd& sw, const std::vector<int64_t>& yk,
               int64_t rows, double lambda, bool intercept, int threads)
      : X_(X), sw_(sw), y_(yk), rows_(rows), lambda_(lambda), intercept_(intercept), threads_(threads) {}

  double operator()(const Eigen::VectorXd& theta, Eigen::VectorXd& grad) const {
    const int64_t n = X_.rows(), d = X_.cols(), r = rows_;
    const int threads = threads_;
    std::vector<Eigen::VectorXd> part(threads, Eigen::VectorXd::Zero(r * (d + 1)));
    std::vector<double> loss(threads, 0.0);
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      Eigen::VectorXd& g = part[t];
      std::vector<double> z(r);
      double local = 0;
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n; ++i) {
        const auto xi = X_.row(i);
        for (int64_t c = 0; c < r; ++c)
          z[c] = theta.segment(c * d, d).dot(xi.transpose()) + (intercept_ ? theta[r * d + c] : 0.0);
        const double w = sw_[i];
        if (r == 1) {
          const double y01 = static_cast<double>(y_[i]);
          local += w * (log1pexp(z[0]) - y01 * z[0]);
          z[0] = w * (sigmoid(z[0]) - y01);
        } else {
          double m = z[0];
          for (int64_t c = 1; c < r; ++c) m = std::max(m, z[c]);
          double sum = 0;
          for (int64_t c = 0; c < r; ++c) sum += std::exp(z[c] - m);
          const double lse = m + std::log(sum);
          local += w * (lse - z[y_[i]]);
          for (int64_t c = 0; c < r; ++c) z[c] = w * (std::exp(z[c] - lse) - (c == y_[i] ? 1.0 : 0.0));
        }
        for (int64_t c = 0; c < r; ++c) {
          g.segment(c * d, d) += z[c] * xi.transpose();
          g[r * d + c] += z[c];
        }
      }
      loss[t] = local;
    }
    double total = 0;
    grad.setZero();
    for (int t = 0; t < threads; ++t) {
      grad += part[t];
      total += loss[t];
    }
    grad.head(r * d) += lambda_ * theta.head(r * d);
    if (!intercept_) grad.tail(r).setZero();
    return total + 0.5 * lambda_ * theta.head(r * d).squaredNorm();
  }

 private:
  const linear_detail::RowMatrix& X_;
  const Eigen::VectorXd& sw_;
  const std::vector<int64_t>& y_;
  int64_t rows_;
  double lambda_;
  bool intercept_;
  int threads_;
};

// Threads for one fit: n_jobs (0: kiln's count), but one for small problems, where waking a team at every
// loss evaluation costs more than the work (on digits, 1797 x 64 x 10, two threads were several times
// slower than one), and one inside another parallel region (cross-validation folds).
int fit_threads(std::int64_t n_jobs, double work) {
  if (omp_in_parallel() || work < 2e7) return 1;
  return n_jobs > 0 ? static_cast<int>(n_jobs) : std::max(1, kiln::get_num_threads());
}

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

LogisticRegression& LogisticRegression::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = "LogisticRegression.fit";
  KILN_CHECK(p_.penalty == "l2" || p_.penalty == "none", who, ": penalty must be \"l2\" or \"none\", got \"",
             p_.penalty, "\"");
  KILN_CHECK(p_.C > 0 && std::isfinite(p_.C), who, ": C must be positive, got ", p_.C);
  KILN_CHECK(p_.max_iter >= 1, who, ": max_iter must be >= 1, got ", p_.max_iter);
  validation::check_param(who, "tol", p_.tol, {0, validation::kInf, true, false});
  KILN_CHECK(p_.multi_class == "auto" || p_.multi_class == "multinomial" || p_.multi_class == "ovr", who,
             ": multi_class must be \"auto\", \"multinomial\" or \"ovr\", got \"", p_.multi_class, "\"");
  KILN_CHECK(p_.class_weight.empty() || p_.class_weight == "balanced", who,
             ": class_weight must be \"\" or \"balanced\" (per-class weights go in class_weights), got \"",
             p_.class_weight, "\"");
  linear_detail::RowMatrix Xm = linear_detail::to_row_matrix(X, who);
  const int64_t n = Xm.rows(), d = Xm.cols();
  linear_detail::Encoded enc = linear_detail::encode_labels(linear_detail::to_labels(y, n, who));
  const int64_t k = static_cast<int64_t>(enc.classes.size());
  KILN_CHECK(k >= 2, who, ": needs samples of at least 2 classes, but y contains only class ",
             enc.classes[0]);
  Eigen::VectorXd sw = linear_detail::to_sample_weight(sample_weight, n, who);
  for (const auto& [label, w] : p_.class_weights) {
    KILN_CHECK(w >= 0 && std::isfinite(w), who, ": class_weights[", label, "] must be >= 0, got ", w);
    // scikit-learn raises too: a weight for a label y does not contain is almost always a mistake.
    KILN_CHECK(std::binary_search(enc.classes.begin(), enc.classes.end(), label), who,
               ": class_weights has label ", label, ", which is not present in y");
  }
  const double lambda = p_.penalty == "none" ? 0.0 : 1.0 / p_.C;
  const bool multinomial = p_.multi_class == "multinomial" || (p_.multi_class == "auto" && k > 2);
  const int64_t problems = multinomial || k == 2 ? 1 : k;
  const int threads =
      fit_threads(p_.n_jobs, static_cast<double>(n) * static_cast<double>(d) * (multinomial ? k : 1));

  // Per-class weights over `labels` (class indices 0..m-1 of m classes; `originals` their labels).
  auto class_weight_of = [&](const std::vector<int64_t>& labels, int64_t m,
                             const std::vector<int64_t>& originals) {
    std::vector<double> cw(m, 1.0);
    if (!p_.class_weights.empty()) {
      for (int64_t c = 0; c < m; ++c) {
        auto it = p_.class_weights.find(originals[c]);
        if (it != p_.class_weights.end()) cw[c] = it->second;
      }
    } else if (p_.class_weight == "balanced") {
      std::vector<double> count(m, 0.0);
      for (int64_t l : labels) count[l] += 1;
      for (int64_t c = 0; c < m; ++c) cw[c] = count[c] > 0 ? n / (m * count[c]) : 1.0;
    }
    return cw;
  };

  // scipy's L-BFGS-B also stops on a 2.2e-9 relative decrease of the loss, which at scikit-learn's default
  // tol 1e-4 ends most fits; a smaller tol tightens that rule in proportion, so asking for tol 1e-10 really
  // reaches the optimum (scipy would stop at the same relative decrease whatever tol says).
  linear_detail::LbfgsOptions opt{
      .max_iter = p_.max_iter, .gtol = p_.tol, .ftol = 2.220446049250313e-09 * std::min(1.0, p_.tol / 1e-4)};
  rows_ = multinomial ? k : problems;
  coef_.assign(rows_ * d, 0.0);
  intercept_.assign(rows_, 0.0);
  n_iter_ = 0;
  warnings_.clear();
  auto report = [&](const linear_detail::LbfgsResult& r) {
    n_iter_ = std::max(n_iter_, r.n_iter);
    if (r.converged) return;
    std::string why =
        r.stop_reason == "max_iter"
            ? "reached max_iter = " + std::to_string(p_.max_iter) + " iterations"
            : "stopped after " + std::to_string(r.n_iter) + " iterations (the line search failed)";
    std::string msg = "LogisticRegression: lbfgs failed to converge: " + why + " with max |gradient| " +
                      fmt(r.grad_max) + " > tol " + fmt(p_.tol) +
                      "; scale the data (StandardScaler) or raise max_iter";
    warnings_.push_back(msg);
    linear_detail::warn_once(msg);
  };

  if (multinomial) {
    Eigen::VectorXd s = sw;
    std::vector<double> cw = class_weight_of(enc.index, k, enc.classes);
    for (int64_t i = 0; i < n; ++i) s[i] *= cw[enc.index[i]];
    LogisticLoss f(Xm, s, enc.index, k, lambda, p_.fit_intercept, threads);
    linear_detail::LbfgsResult r = linear_detail::lbfgs_minimize(f, Eigen::VectorXd::Zero(k * (d + 1)), opt);
    std::copy(r.x.data(), r.x.data() + k * d, coef_.begin());
    if (p_.fit_intercept) std::copy(r.x.data() + k * d, r.x.data() + k * (d + 1), intercept_.begin());
    report(r);
  } else {
    for (int64_t prob = 0; prob < problems; ++prob) {
      const int64_t pos = k == 2 ? 1 : prob;
      Eigen::VectorXd s = sw;
      std::vector<int64_t> bin(n);
      for (int64_t i = 0; i < n; ++i) bin[i] = enc.index[i] == pos ? 1 : 0;
      // scikit-learn: "balanced" weighs the rest-vs-positive labels; a per-class map the original labels.
      std::vector<double> cw;
      if (p_.class_weights.empty()) {
        cw = class_weight_of(bin, 2, {0, 1});
        for (int64_t i = 0; i < n; ++i) s[i] *= cw[bin[i]];
      } else {
        cw = class_weight_of(enc.index, k, enc.classes);
        for (int64_t i = 0; i < n; ++i) s[i] *= cw[enc.index[i]];
      }
      LogisticLoss f(Xm, s, bin, 1, lambda, p_.fit_intercept, threads);
      linear_detail::LbfgsResult r = linear_detail::lbfgs_minimize(f, Eigen::VectorXd::Zero(d + 1), opt);
      std::copy(r.x.data(), r.x.data() + d, coef_.begin() + prob * d);
      if (p_.fit_intercept) intercept_[prob] = r.x[d];
      report(r);
    }
  }
  ovr_ = !multinomial && k > 2;
  classes_ = enc.classes;
  n_features_ = d;
  fitted_ = true;
  return *this;
}

std::vector<double> LogisticRegression::raw_scores(const Tensor& X, const std::string& who) const {
  validation::check_fitted(fitted_, who);
  Eigen::MatrixXd Xm = linear_detail::to_matrix(X, who);
  linear_detail::check_features(Xm.cols(), n_features_, who);
  Eigen::Map<const linear_detail::RowMatrix> W(coef_.data(), rows_, n_features_);
  linear_detail::RowMatrix Z = Xm * W.transpose();
  for (int64_t i = 0; i < Z.rows(); ++i)
    for (int64_t c = 0; c < rows_; ++c) Z(i, c) += intercept_[c];
  return std::vector<double>(Z.data(), Z.data() + Z.size());
}

Tensor LogisticRegression::decision_function(const Tensor& X) const {
  std::vector<double> z = raw_scores(X, "LogisticRegression.decision_function");
  const int64_t n = static_cast<int64_t>(z.size()) / rows_;
  if (rows_ == 1) return from_vector(z);
  return from_vector(z, Shape{n, rows_});
}

Tensor LogisticRegression::predict_proba(const Tensor& X) const {
  std::vector<double> z = raw_scores(X, "LogisticRegression.predict_proba");
  const int64_t n = static_cast<int64_t>(z.size()) / rows_, k = static_cast<int64_t>(classes_.size());
  std::vector<double> p(n * k);
  for (int64_t i = 0; i < n; ++i) {
    double* pi = p.data() + i * k;
    const double* zi = z.data() + i * rows_;
    if (rows_ == 1) {
      pi[1] = sigmoid(zi[0]);
      pi[0] = 1.0 - pi[1];
    } else if (ovr_) {
      double sum = 0;
      for (int64_t c = 0; c < k; ++c) sum += pi[c] = sigmoid(zi[c]);
      for (int64_t c = 0; c < k; ++c) pi[c] /= sum;
    } else {
      double m = zi[0], sum = 0;
      for (int64_t c = 1; c < k; ++c) m = std::max(m, zi[c]);
      for (int64_t c = 0; c < k; ++c) sum += pi[c] = std::exp(zi[c] - m);
      for (int64_t c = 0; c < k; ++c) pi[c] /= sum;
    }
  }
  return from_vector(p, Shape{n, k});
}

Tensor LogisticRegression::predict_log_proba(const Tensor& X) const {
  // From the scores directly (log-sigmoid, log-softmax), so a probability that rounds to 0 still has a
  // finite log.
  std::vector<double> z = raw_scores(X, "LogisticRegression.predict_log_proba");
  const int64_t n = static_cast<int64_t>(z.size()) / rows_, k = static_cast<int64_t>(classes_.size());
  std::vector<double> lp(n * k);
  for (int64_t i = 0; i < n; ++i) {
    double* li = lp.data() + i * k;
    const double* zi = z.data() + i * rows_;
    if (rows_ == 1) {
      li[1] = -log1pexp(-zi[0]);
      li[0] = -log1pexp(zi[0]);
      continue;
    }
    double norm = 0;
    if (ovr_) {
      double sum = 0;
      for (int64_t c = 0; c < k; ++c) sum += sigmoid(zi[c]);
      for (int64_t c = 0; c < k; ++c) li[c] = -log1pexp(-zi[c]);
      norm = std::log(sum);
    } else {
      double m = zi[0], sum = 0;
      for (int64_t c = 1; c < k; ++c) m = std::max(m, zi[c]);
      for (int64_t c = 0; c < k; ++c) sum += std::exp(zi[c] - m);
      for (int64_t c = 0; c < k; ++c) li[c] = zi[c];
      norm = m + std::log(sum);
    }
    for (int64_t c = 0; c < k; ++c) li[c] -= norm;
  }
  return from_vector(lp, Shape{n, k});
}

Tensor LogisticRegression::predict(const Tensor& X) const {
  std::vector<double> z = raw_scores(X, "LogisticRegression.predict");
  const int64_t n = static_cast<int64_t>(z.size()) / rows_;
  std::vector<int64_t> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const double* zi = z.data() + i * rows_;
    if (rows_ == 1) {
      out[i] = classes_[zi[0] > 0 ? 1 : 0];
    } else {
      int64_t best = 0;
      for (int64_t c = 1; c < rows_; ++c)
        if (zi[c] > zi[best]) best = c;
      out[i] = classes_[best];
    }
  }
  return from_vector(out);
}

double LogisticRegression::score(const Tensor& X, const Tensor& y) const {
  std::vector<int64_t> pred = predict(X).to_vector<int64_t>();
  std::vector<int64_t> truth =
      linear_detail::to_labels(y, static_cast<int64_t>(pred.size()), "LogisticRegression.score");
  int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor LogisticRegression::classes() const {
  validation::check_fitted(fitted_, "LogisticRegression.classes");
  return from_vector(classes_);
}

Tensor LogisticRegression::coef() const {
  validation::check_fitted(fitted_, "LogisticRegression.coef");
  return from_vector(coef_, Shape{rows_, n_features_});
}

Tensor LogisticRegression::intercept() const {
  validation::check_fitted(fitted_, "LogisticRegression.intercept");
  return from_vector(intercept_);
}

StateDict LogisticRegression::fitted_state() const {
  KILN_CHECK(fitted_, name(), ".fitted_state: call fit() first");
  StateDict s;
  s.insert("classes", state::i64(classes_));
  s.insert("coef", from_vector(coef_, Shape{rows_, n_features_}));
  s.insert("intercept", state::f64(intercept_));
  s.insert("ovr", state::i64_scalar(ovr_ ? 1 : 0));
  s.insert("n_iter", state::i64_scalar(n_iter_));
  return s;
}

void LogisticRegression::load_fitted_state(const StateDict& s) {
  std::vector<std::int64_t> classes = state::i64_values(s, "classes", name());
  KILN_CHECK(classes.size() >= 2, name(), ".load_fitted_state: 'classes' has ", classes.size(),
             " labels, a fitted model has at least 2");
  const std::int64_t rows = classes.size() == 2 ? 1 : static_cast<std::int64_t>(classes.size());
  KILN_CHECK(s.contains("coef") && s.at("coef").dim() == 2 && s.at("coef").size(0) == rows, name(),
             ".load_fitted_state: 'coef' must be (", rows, ", D) for ", classes.size(), " classes");
  const std::int64_t d = s.at("coef").size(1);
  std::vector<double> coef = state::f64_values(s, "coef", name(), rows * d);
  std::vector<double> intercept = state::f64_values(s, "intercept", name(), rows);
  const std::int64_t ovr = state::i64_item(s, "ovr", name()), n_iter = state::i64_item(s, "n_iter", name());
  classes_ = std::move(classes), coef_ = std::move(coef), intercept_ = std::move(intercept);
  rows_ = rows, n_features_ = d, ovr_ = ovr != 0, n_iter_ = n_iter;
  warnings_.clear();
  fitted_ = true;
}

}  // namespace kiln::classic
