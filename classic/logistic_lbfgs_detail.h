// kiln/classic/logistic_lbfgs_detail.h: an unconstrained limited-memory BFGS minimizer (internal to
// classic/), with a strong-Wolfe line search. Its stopping rules follow scipy's L-BFGS-B as scikit-learn
// calls it: stop when max|gradient| <= gtol, or when the relative decrease of f in one iteration is <= ftol,
// or after max_iter iterations. Depends on Eigen only; not a public header.
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <functional>
#include <string>

namespace kiln::classic::linear_detail {

// f(x) and its gradient (written into grad, already sized like x).
using Objective = std::function<double(const Eigen::VectorXd& x, Eigen::VectorXd& grad)>;

struct LbfgsOptions {
  std::int64_t max_iter = 100;
  double gtol = 1e-4;
  double ftol = 2.220446049250313e-09;  // scipy's default factr 1e7 times machine epsilon
  int memory = 10;                      // scipy's maxcor
};

struct LbfgsResult {
  Eigen::VectorXd x;
  double f = 0;
  double grad_max = 0;  // max |gradient| at x
  std::int64_t n_iter = 0;
  bool converged = false;   // a tolerance was met (false: max_iter reached or the line search failed)
  std::string stop_reason;  // "gtol", "ftol", "max_iter" or "line search failed"
};

LbfgsResult lbfgs_minimize(const Objective& f, Eigen::VectorXd x0, const LbfgsOptions& options);

}  // namespace kiln::classic::linear_detail
