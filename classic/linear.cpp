// kiln/classic/linear.cpp: LinearRegression, Ridge and Lasso (linear.h). All three centre X and y by their
// (weighted) means when fitting an intercept, fold the sample weights in as sqrt(s) row scales, solve for
// w on the centred problem and recover b = mean(y) - mean(X).w, as scikit-learn does.
#include "kiln/classic/linear.h"
#include "kiln/classic/validation.h"

#include "kiln/classic/estimator_state.h"

#include <cmath>
#include <sstream>

#include "kiln/classic/linear_detail.h"

namespace kiln::classic {
namespace {

// The weighted, centred and sqrt(weight)-scaled problem, plus the means needed to undo the centring.
struct Prepared {
  Eigen::MatrixXd X;
  Eigen::VectorXd y;
  Eigen::RowVectorXd x_mean;
  double y_mean = 0;
};

Prepared prepare(const Tensor& X, const Tensor& y, const Tensor& sample_weight, bool fit_intercept,
                 const std::string& who, bool normalize_weights) {
  Prepared p;
  p.X = linear_detail::to_matrix(X, who);
  const int64_t n = p.X.rows();
  p.y = linear_detail::to_targets(y, n, who);
  Eigen::VectorXd s = linear_detail::to_sample_weight(sample_weight, n, who);
  // Lasso's objective divides by the weight sum: scaling the weights to sum to N keeps its alpha on the
  // same footing as the unweighted problem.
  if (normalize_weights) s *= static_cast<double>(n) / s.sum();
  p.x_mean = Eigen::RowVectorXd::Zero(p.X.cols());
  if (fit_intercept) {
    p.x_mean = (s.transpose() * p.X) / s.sum();
    p.y_mean = s.dot(p.y) / s.sum();
    p.X.rowwise() -= p.x_mean;
    p.y.array() -= p.y_mean;
  }
  Eigen::VectorXd root = s.cwiseSqrt();
  p.X = root.asDiagonal() * p.X;
  p.y = p.y.cwiseProduct(root);
  return p;
}

void store(const Eigen::VectorXd& w, const Prepared& p, bool fit_intercept, std::vector<double>& coef,
           double& intercept) {
  coef.assign(w.data(), w.data() + w.size());
  intercept = fit_intercept ? p.y_mean - p.x_mean.dot(w) : 0.0;
}

}  // namespace

Tensor LinearModel::predict(const Tensor& X) const {
  const std::string who = name() + ".predict";
  validation::check_fitted(fitted_, who);
  Eigen::MatrixXd x = linear_detail::to_matrix(X, who);
  linear_detail::check_features(x.cols(), static_cast<int64_t>(coef_.size()), who);
  Eigen::VectorXd w = Eigen::Map<const Eigen::VectorXd>(coef_.data(), coef_.size());
  Eigen::VectorXd out = (x * w).array() + intercept_;
  return linear_detail::to_tensor(out);
}

double LinearModel::score(const Tensor& X, const Tensor& y) const {
  Tensor pred = predict(X);
  Eigen::VectorXd yt = linear_detail::to_targets(y, X.shape()[0], name() + ".score");
  return linear_detail::r2(yt, linear_detail::to_targets(pred, X.shape()[0], name() + ".score"));
}

Tensor LinearModel::coef() const {
  validation::check_fitted(fitted_, name() + ".coef");
  return from_vector(coef_);
}

double LinearModel::intercept() const {
  validation::check_fitted(fitted_, name() + ".intercept");
  return intercept_;
}

StateDict LinearModel::fitted_state() const {
  validation::check_fitted(fitted_, name() + ".fitted_state");
  StateDict s;
  s.insert("coef", state::f64(coef_));
  s.insert("intercept", state::f64_scalar(intercept_));
  return s;
}

void LinearModel::load_fitted_state(const StateDict& s) {
  std::vector<double> coef = state::f64_values(s, "coef", name());
  intercept_ = state::f64_item(s, "intercept", name());
  coef_ = std::move(coef);
  fitted_ = true;
}

// ---- LinearRegression ----

LinearRegression& LinearRegression::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  params::validate(p_, "LinearRegression.fit");
  Prepared p = prepare(X, y, sample_weight, p_.fit_intercept, "LinearRegression.fit", false);
  // Minimum-norm least squares through an SVD, like scipy's lstsq (gelsd), so collinear columns are fine.
  Eigen::BDCSVD<Eigen::MatrixXd> svd(p.X, Eigen::ComputeThinU | Eigen::ComputeThinV);
  Eigen::VectorXd w = svd.solve(p.y);
  store(w, p, p_.fit_intercept, coef_, intercept_);
  fitted_ = true;
  return *this;
}

// ---- Ridge ----

Ridge& Ridge::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  params::validate(p_, "Ridge.fit");
  Prepared p = prepare(X, y, sample_weight, p_.fit_intercept, "Ridge.fit", false);
  Eigen::VectorXd w;
  if (p_.alpha > 0) {
    Eigen::MatrixXd A = p.X.transpose() * p.X;
    A.diagonal().array() += p_.alpha;
    w = A.ldlt().solve(p.X.transpose() * p.y);
  } else {
    w = Eigen::BDCSVD<Eigen::MatrixXd>(p.X, Eigen::ComputeThinU | Eigen::ComputeThinV).solve(p.y);
  }
  store(w, p, p_.fit_intercept, coef_, intercept_);
  fitted_ = true;
  return *this;
}

// ---- Lasso ----

Lasso& Lasso::fit(const Tensor& X, const Tensor& y, const Tensor& sample_weight) {
  params::validate(p_, "Lasso.fit");
  Prepared p = prepare(X, y, sample_weight, p_.fit_intercept, "Lasso.fit", true);
  const Eigen::MatrixXd& A = p.X;
  const Eigen::VectorXd& b = p.y;
  const int64_t n = A.rows(), d = A.cols();
  const double alpha = p_.alpha * static_cast<double>(n);  // the objective times N
  const double gap_tol = p_.tol * b.squaredNorm();
  Eigen::VectorXd col_norm2 = A.colwise().squaredNorm().transpose();
  Eigen::VectorXd w = Eigen::VectorXd::Zero(d);
  Eigen::VectorXd r = b;
  bool converged = false;
  int64_t it = 0;
  double gap = 0;
  for (; it < p_.max_iter; ++it) {
    double w_max = 0, dw_max = 0;
    for (int64_t j = 0; j < d; ++j) {
      if (col_norm2[j] == 0) continue;
      const double old = w[j];
      if (old != 0) r += old * A.col(j);
      const double rho = A.col(j).dot(r);
      const double shrunk = std::max(std::abs(rho) - alpha, 0.0);
      w[j] = (rho < 0 ? -shrunk : shrunk) / col_norm2[j];
      if (w[j] != 0) r -= w[j] * A.col(j);
      dw_max = std::max(dw_max, std::abs(w[j] - old));
      w_max = std::max(w_max, std::abs(w[j]));
    }
    // The duality gap is costly (a full X^T r), so it is checked only once the updates have become small.
    if (w_max == 0 || dw_max / w_max < p_.tol || it == p_.max_iter - 1) {
      Eigen::VectorXd xtr = A.transpose() * r;
      const double dual_norm = xtr.cwiseAbs().maxCoeff();
      const double r_norm2 = r.squaredNorm();
      double scale = 1.0;
      if (dual_norm > alpha) {
        scale = alpha / dual_norm;
        gap = 0.5 * (r_norm2 + r_norm2 * scale * scale);
      } else {
        gap = r_norm2;
      }
      gap += alpha * w.cwiseAbs().sum() - scale * r.dot(b);
      if (gap < gap_tol) {
        converged = true;
        break;
      }
    }
  }
  n_iter_ = converged ? it + 1 : p_.max_iter;
  warnings_.clear();
  if (!converged) {
    std::ostringstream msg;
    msg << "Lasso: coordinate descent did not converge after " << p_.max_iter << " iterations (duality gap "
        << gap << " > tolerance " << gap_tol << "); raise max_iter, or scale the data (StandardScaler)";
    warnings_.push_back(msg.str());
    linear_detail::warn_once(msg.str());
  }
  store(w, p, p_.fit_intercept, coef_, intercept_);
  fitted_ = true;
  return *this;
}

}  // namespace kiln::classic
