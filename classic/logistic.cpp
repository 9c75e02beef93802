// kiln/classic/logistic.cpp: LogisticRegression (logistic.h): the binary and multinomial losses with their
// gradients, the class and sample weights, one-vs-rest, and the convergence report. The optimizer is
// logistic_lbfgs.cpp.
#include "kiln/classic/logistic.h"

#include <omp.h>

#include <cmath>
#include <sstream>

#include "kiln/classic/linear_detail.h"
#include "kiln/classic/logistic_lbfgs.h"
#include "kiln/tensor/threads.h"

namespace kiln::classic {
namespace {

using detail::assign_param;

double log1pexp(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }
double sigmoid(double z) {
  if (z >= 0) return 1.0 / (1.0 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1.0 + e);
}

// Sets Eigen's thread count for one fit and restores it. Small problems run on one thread: their
// matrix products take microseconds, less than waking a team of threads at every loss evaluation (on
// digits, 1797 x 64 x 10, two threads were several times slower than one). Not inside another parallel
// region (cross-validation folds), where Eigen runs single-threaded anyway and the global setting must not
// be raced on.
class EigenThreads {
 public:
  EigenThreads(std::int64_t n_jobs, double work) {
    if (omp_in_parallel()) return;
    int threads = n_jobs > 0 ? static_cast<int>(n_jobs) : kiln::get_num_threads();
    if (work < 2e7) threads = 1;
    saved_ = Eigen::nbThreads();
    Eigen::setNbThreads(threads);
  }
  ~EigenThreads() {
    if (saved_ > 0) Eigen::setNbThreads(saved_);
  }

 private:
  int saved_ = 0;
};

// Binary: theta = [w (D), b]; y01 in {0, 1}.
detail::Objective binary_objective(const Eigen::MatrixXd& X, const Eigen::VectorXd& y01,
                                   const Eigen::VectorXd& sw, double lambda, bool intercept) {
  return [&X, &y01, &sw, lambda, intercept](const Eigen::VectorXd& theta, Eigen::VectorXd& grad) {
    const int64_t d = X.cols();
    const double b = intercept ? theta[d] : 0.0;
    Eigen::VectorXd z = X * theta.head(d);
    Eigen::VectorXd r(z.size());
    double loss = 0;
    for (int64_t i = 0; i < z.size(); ++i) {
      const double zi = z[i] + b;
      loss += sw[i] * (log1pexp(zi) - y01[i] * zi);
      r[i] = sw[i] * (sigmoid(zi) - y01[i]);
    }
    grad.head(d) = X.transpose() * r + lambda * theta.head(d);
    grad[d] = intercept ? r.sum() : 0.0;
    return loss + 0.5 * lambda * theta.head(d).squaredNorm();
  };
}

// Multinomial: theta = [W (K, D) row-major, b (K)]; yk the class index of each sample.
detail::Objective multinomial_objective(const Eigen::MatrixXd& X, const std::vector<int64_t>& yk,
                                        const Eigen::VectorXd& sw, int64_t k, double lambda, bool intercept) {
  return [&X, &yk, &sw, k, lambda, intercept](const Eigen::VectorXd& theta, Eigen::VectorXd& grad) {
    const int64_t n = X.rows(), d = X.cols();
    Eigen::Map<const detail::RowMatrix> W(theta.data(), k, d);
    Eigen::MatrixXd Z = X * W.transpose();  // (N, K)
    if (intercept) Z.rowwise() += theta.segment(k * d, k).transpose();
    double loss = 0;
    for (int64_t i = 0; i < n; ++i) {
      const double m = Z.row(i).maxCoeff();
      double sum = 0;
      for (int64_t c = 0; c < k; ++c) sum += std::exp(Z(i, c) - m);
      const double lse = m + std::log(sum);
      loss += sw[i] * (lse - Z(i, yk[i]));
      for (int64_t c = 0; c < k; ++c) Z(i, c) = sw[i] * (std::exp(Z(i, c) - lse) - (c == yk[i] ? 1.0 : 0.0));
    }
    Eigen::Map<detail::RowMatrix> G(grad.data(), k, d);
    G = Z.transpose() * X;
    G += lambda * W;
    if (intercept)
      grad.segment(k * d, k) = Z.colwise().sum().transpose();
    else
      grad.segment(k * d, k).setZero();
    return loss + 0.5 * lambda * W.squaredNorm();
  };
}

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

}  // namespace

ParamMap LogisticRegression::get_params() const {
  return {{"penalty", p_.penalty},
          {"C", p_.C},
          {"fit_intercept", p_.fit_intercept},
          {"class_weight", p_.class_weight},
          {"max_iter", p_.max_iter},
          {"tol", p_.tol},
          {"multi_class", p_.multi_class},
          {"n_jobs", p_.n_jobs}};
}

void LogisticRegression::set_params(const ParamMap& params) {
  Params q = p_;
  for (const auto& [k, v] : params) {
    if (k == "penalty")
      assign_param(name(), k, v, q.penalty);
    else if (k == "C")
      assign_param(name(), k, v, q.C);
    else if (k == "fit_intercept")
      assign_param(name(), k, v, q.fit_intercept);
    else if (k == "class_weight")
      assign_param(name(), k, v, q.class_weight);
    else if (k == "max_iter")
      assign_param(name(), k, v, q.max_iter);
    else if (k == "tol")
      assign_param(name(), k, v, q.tol);
    else if (k == "multi_class")
      assign_param(name(), k, v, q.multi_class);
    else if (k == "n_jobs")
      assign_param(name(), k, v, q.n_jobs);
    else
      detail::unknown_param(name(), k, get_params());
  }
  p_ = q;
}

LogisticRegression& LogisticRegression::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  const std::string who = "LogisticRegression.fit";
  KILN_CHECK(p_.penalty == "l2" || p_.penalty == "none", who, ": penalty must be \"l2\" or \"none\", got \"",
             p_.penalty, "\"");
  KILN_CHECK(p_.C > 0 && std::isfinite(p_.C), who, ": C must be positive, got ", p_.C);
  KILN_CHECK(p_.max_iter >= 1, who, ": max_iter must be >= 1, got ", p_.max_iter);
  KILN_CHECK(p_.tol >= 0, who, ": tol must be >= 0, got ", p_.tol);
  KILN_CHECK(p_.multi_class == "auto" || p_.multi_class == "multinomial" || p_.multi_class == "ovr", who,
             ": multi_class must be \"auto\", \"multinomial\" or \"ovr\", got \"", p_.multi_class, "\"");
  KILN_CHECK(p_.class_weight.empty() || p_.class_weight == "balanced", who,
             ": class_weight must be \"\" or \"balanced\" (per-class weights go in class_weights), got \"",
             p_.class_weight, "\"");
  Eigen::MatrixXd Xm = detail::to_matrix(X, who);
  const int64_t n = Xm.rows(), d = Xm.cols();
  detail::Encoded enc = detail::encode_labels(detail::to_labels(y, n, who));
  const int64_t k = static_cast<int64_t>(enc.classes.size());
  KILN_CHECK(k >= 2, who, ": needs samples of at least 2 classes, but y contains only class ",
             enc.classes[0]);
  Eigen::VectorXd sw = detail::to_sample_weight(sample_weight, n, who);
  for (const auto& [label, w] : p_.class_weights)
    KILN_CHECK(w >= 0 && std::isfinite(w), who, ": class_weights[", label, "] must be >= 0, got ", w);
  const double lambda = p_.penalty == "none" ? 0.0 : 1.0 / p_.C;
  const bool multinomial = p_.multi_class == "multinomial" || (p_.multi_class == "auto" && k > 2);
  const int64_t problems = multinomial || k == 2 ? 1 : k;
  EigenThreads threads(p_.n_jobs, static_cast<double>(n) * static_cast<double>(d) * (multinomial ? k : 1));

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
  detail::LbfgsOptions opt{
      .max_iter = p_.max_iter, .gtol = p_.tol, .ftol = 2.220446049250313e-09 * std::min(1.0, p_.tol / 1e-4)};
  rows_ = multinomial ? k : problems;
  coef_.assign(rows_ * d, 0.0);
  intercept_.assign(rows_, 0.0);
  n_iter_ = 0;
  warnings_.clear();
  auto report = [&](const detail::LbfgsResult& r) {
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
    detail::warn_once(msg);
  };

  if (multinomial) {
    Eigen::VectorXd s = sw;
    std::vector<double> cw = class_weight_of(enc.index, k, enc.classes);
    for (int64_t i = 0; i < n; ++i) s[i] *= cw[enc.index[i]];
    auto f = multinomial_objective(Xm, enc.index, s, k, lambda, p_.fit_intercept);
    detail::LbfgsResult r = detail::lbfgs_minimize(f, Eigen::VectorXd::Zero(k * (d + 1)), opt);
    std::copy(r.x.data(), r.x.data() + k * d, coef_.begin());
    if (p_.fit_intercept) std::copy(r.x.data() + k * d, r.x.data() + k * (d + 1), intercept_.begin());
    report(r);
  } else {
    for (int64_t prob = 0; prob < problems; ++prob) {
      const int64_t pos = k == 2 ? 1 : prob;
      Eigen::VectorXd y01(n), s = sw;
      std::vector<int64_t> bin(n);
      for (int64_t i = 0; i < n; ++i) bin[i] = enc.index[i] == pos ? 1 : 0;
      for (int64_t i = 0; i < n; ++i) y01[i] = static_cast<double>(bin[i]);
      // scikit-learn: "balanced" weighs the rest-vs-positive labels; a per-class map the original labels.
      std::vector<double> cw;
      if (p_.class_weights.empty()) {
        cw = class_weight_of(bin, 2, {0, 1});
        for (int64_t i = 0; i < n; ++i) s[i] *= cw[bin[i]];
      } else {
        cw = class_weight_of(enc.index, k, enc.classes);
        for (int64_t i = 0; i < n; ++i) s[i] *= cw[enc.index[i]];
      }
      auto f = binary_objective(Xm, y01, s, lambda, p_.fit_intercept);
      detail::LbfgsResult r = detail::lbfgs_minimize(f, Eigen::VectorXd::Zero(d + 1), opt);
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
  detail::check_fitted(fitted_, who);
  Eigen::MatrixXd Xm = detail::to_matrix(X, who);
  detail::check_features(Xm.cols(), n_features_, who);
  Eigen::Map<const detail::RowMatrix> W(coef_.data(), rows_, n_features_);
  detail::RowMatrix Z = Xm * W.transpose();
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
  std::vector<double> p = predict_proba(X).to_vector<double>();
  for (double& v : p) v = std::log(v);
  return from_vector(p, Shape{static_cast<int64_t>(p.size()) / static_cast<int64_t>(classes_.size()),
                              static_cast<int64_t>(classes_.size())});
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
      detail::to_labels(y, static_cast<int64_t>(pred.size()), "LogisticRegression.score");
  int64_t hit = 0;
  for (size_t i = 0; i < pred.size(); ++i) hit += pred[i] == truth[i];
  return static_cast<double>(hit) / static_cast<double>(pred.size());
}

Tensor LogisticRegression::classes() const {
  detail::check_fitted(fitted_, "LogisticRegression.classes");
  return from_vector(classes_);
}

Tensor LogisticRegression::coef() const {
  detail::check_fitted(fitted_, "LogisticRegression.coef");
  return from_vector(coef_, Shape{rows_, n_features_});
}

Tensor LogisticRegression::intercept() const {
  detail::check_fitted(fitted_, "LogisticRegression.intercept");
  return from_vector(intercept_);
}

}  // namespace kiln::classic
