// kiln/classic/logistic_lbfgs.cpp: L-BFGS (two-loop recursion, memory m) with the Moré-Thuente line search
// and the constants L-BFGS-B uses (ftol 1e-3, gtol 0.9, xtol 0.1, at most 20 evaluations per search), so
// that on well-conditioned problems it takes the same steps as scipy's L-BFGS-B under scikit-learn.
#include "kiln/classic/logistic_lbfgs_detail.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <vector>

namespace kiln::classic::linear_detail {
namespace {

// Moré-Thuente line search constants, as L-BFGS-B uses them.
constexpr double kFtol = 1e-3;  // sufficient decrease
constexpr double kGtol = 0.9;   // curvature
constexpr double kXtol = 0.1;   // relative width of the bracket at which to give up
constexpr double kStpMax = 1e10;
constexpr int kMaxEvals = 20;  // L-BFGS-B's limit on function evaluations per line search

// One safeguarded step of the Moré-Thuente search: from the best step so far (stx), the other end of the
// interval (sty) and the latest trial (stp), choose the next trial by cubic / quadratic / secant
// interpolation and update the interval (Moré and Thuente 1994, "Line search algorithms with guaranteed
// sufficient decrease", section 4).
void more_thuente_step(double& stx, double& fx, double& dx, double& sty, double& fy, double& dy, double& stp,
                       double fp, double dp, bool& brackt, double stpmin, double stpmax) {
  const double sgnd = dp * (dx / std::abs(dx));
  double stpf;
  if (fp > fx) {  // higher function value: the minimum is bracketed
    const double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp < stx) gamma = -gamma;
    const double p = (gamma - dx) + theta, q = ((gamma - dx) + gamma) + dp;
    const double stpc = stx + (p / q) * (stp - stx);
    const double stpq = stx + ((dx / ((fx - fp) / (stp - stx) + dx)) / 2) * (stp - stx);
    stpf = std::abs(stpc - stx) < std::abs(stpq - stx) ? stpc : stpc + (stpq - stpc) / 2;
    brackt = true;
  } else if (sgnd < 0) {  // derivatives of opposite sign: bracketed
    const double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt((theta / s) * (theta / s) - (dx / s) * (dp / s));
    if (stp > stx) gamma = -gamma;
    const double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dx;
    const double stpc = stp + (p / q) * (stx - stp);
    const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
    brackt = true;
  } else if (std::abs(dp) < std::abs(dx)) {  // same sign, derivative magnitude decreasing
    const double theta = 3 * (fx - fp) / (stp - stx) + dx + dp;
    const double s = std::max({std::abs(theta), std::abs(dx), std::abs(dp)});
    double gamma = s * std::sqrt(std::max(0.0, (theta / s) * (theta / s) - (dx / s) * (dp / s)));
    if (stp > stx) gamma = -gamma;
    const double p = (gamma - dp) + theta, q = (gamma + (dx - dp)) + gamma;
    const double r = p / q;
    double stpc;
    if (r < 0 && gamma != 0)
      stpc = stp + r * (stx - stp);
    else
      stpc = stp > stx ? stpmax : stpmin;
    const double stpq = stp + (dp / (dp - dx)) * (stx - stp);
    if (brackt) {
      stpf = std::abs(stpc - stp) < std::abs(stpq - stp) ? stpc : stpq;
      stpf = stp > stx ? std::min(stp + 0.66 * (sty - stp), stpf) : std::max(stp + 0.66 * (sty - stp), stpf);
    } else {
      stpf = std::abs(stpc - stp) > std::abs(stpq - stp) ? stpc : stpq;
      stpf = std::clamp(stpf, stpmin, stpmax);
    }
  } else {  // same sign, derivative magnitude not decreasing
    if (brackt) {
      const double theta = 3 * (fp - fy) / (sty - stp) + dy + dp;
      const double s = std::max({std::abs(theta), std::abs(dy), std::abs(dp)});
      double gamma = s * std::sqrt((theta / s) * (theta / s) - (dy / s) * (dp / s));
      if (stp > sty) gamma = -gamma;
      const double p = (gamma - dp) + theta, q = ((gamma - dp) + gamma) + dy;
      stpf = stp + (p / q) * (sty - stp);
    } else {
      stpf = stp > stx ? stpmax : stpmin;
    }
  }
  if (fp > fx) {
    sty = stp, fy = fp, dy = dp;
  } else {
    if (sgnd < 0) sty = stx, fy = fx, dy = dx;
    stx = stp, fx = fp, dx = dp;
  }
  stp = stpf;
}

struct Point {
  double f = 0;
  Eigen::VectorXd x, g;
};

// Moré-Thuente search along dir from x (f0, derivative d0 < 0) starting at step stp. Returns false when it
// ran out of evaluations without meeting sufficient decrease (L-BFGS-B then restarts or stops).
bool line_search(const Objective& f, const Eigen::VectorXd& x, const Eigen::VectorXd& dir, double f0,
                 double d0, double stp, Point& out) {
  bool brackt = false;
  int stage = 1;
  const double gtest = kFtol * d0;
  double width = kStpMax, width1 = 2 * width;
  double stx = 0, fx = f0, gx = d0, sty = 0, fy = f0, gy = d0;
  double stmin = 0, stmax = stp + 4.0 * stp;
  for (int eval = 0; eval < kMaxEvals; ++eval) {
    out.x = x + stp * dir;
    out.g.resize(x.size());
    out.f = f(out.x, out.g);
    const double g = out.g.dot(dir), fv = out.f;
    const double ftest = f0 + stp * gtest;
    if (stage == 1 && fv <= ftest && g >= 0) stage = 2;
    if (fv <= ftest && std::abs(g) <= -kGtol * d0) return true;  // strong Wolfe conditions
    // Rounding or an interval narrower than xtol: accept the step if it decreased f (a "warning" exit).
    if ((brackt && (stp <= stmin || stp >= stmax)) || (brackt && stmax - stmin <= kXtol * stmax) ||
        (stp == kStpMax && fv <= ftest && g <= gtest))
      return fv < f0 && std::isfinite(fv);
    if (!std::isfinite(fv)) {  // overflowed: halve the step towards the best one so far
      stp = stx + 0.5 * (stp - stx);
      continue;
    }
    if (stage == 1 && fv <= fx && fv > ftest) {
      // The modified function psi(a) = phi(a) - a * gtest, until a step with sufficient decrease and
      // non-negative derivative appears.
      double fm = fv - stp * gtest, fxm = fx - stx * gtest, fym = fy - sty * gtest;
      double gm = g - gtest, gxm = gx - gtest, gym = gy - gtest;
      more_thuente_step(stx, fxm, gxm, sty, fym, gym, stp, fm, gm, brackt, stmin, stmax);
      fx = fxm + stx * gtest, fy = fym + sty * gtest, gx = gxm + gtest, gy = gym + gtest;
    } else {
      more_thuente_step(stx, fx, gx, sty, fy, gy, stp, fv, g, brackt, stmin, stmax);
    }
    if (brackt) {
      if (std::abs(sty - stx) >= 0.66 * width1) stp = stx + 0.5 * (sty - stx);
      width1 = width;
      width = std::abs(sty - stx);
      stmin = std::min(stx, sty), stmax = std::max(stx, sty);
    } else {
      stmin = stp + 1.1 * (stp - stx), stmax = stp + 4.0 * (stp - stx);
    }
    stp = std::clamp(stp, 0.0, kStpMax);
    if ((brackt && (stp <= stmin || stp >= stmax)) || (brackt && stmax - stmin <= kXtol * stmax)) stp = stx;
  }
  return false;
}

}  // namespace

LbfgsResult lbfgs_minimize(const Objective& f, Eigen::VectorXd x0, const LbfgsOptions& opt) {
  LbfgsResult res;
  Eigen::VectorXd x = std::move(x0);
  Eigen::VectorXd g(x.size());
  double fx = f(x, g);
  std::deque<Eigen::VectorXd> S, Y;
  std::deque<double> rho;
  res.stop_reason = "max_iter";
  if (g.cwiseAbs().maxCoeff() <= opt.gtol) {
    res.converged = true;
    res.stop_reason = "gtol";
  }
  std::int64_t k = 0;
  bool reset_tried = false;
  while (!res.converged && k < opt.max_iter) {
    // Two-loop recursion: dir = -H g with H the inverse-Hessian estimate from the stored pairs.
    Eigen::VectorXd q = g;
    std::vector<double> alpha(S.size());
    for (int i = static_cast<int>(S.size()) - 1; i >= 0; --i) {
      alpha[i] = rho[i] * S[i].dot(q);
      q -= alpha[i] * Y[i];
    }
    if (!S.empty()) q *= S.back().dot(Y.back()) / Y.back().squaredNorm();
    for (size_t i = 0; i < S.size(); ++i) {
      const double beta = rho[i] * Y[i].dot(q);
      q += (alpha[i] - beta) * S[i];
    }
    Eigen::VectorXd dir = -q;
    double d0 = g.dot(dir);
    if (!(d0 < 0)) {  // not a descent direction (lost curvature information): restart from steepest descent
      S.clear(), Y.clear(), rho.clear();
      dir = -g;
      d0 = g.dot(dir);
    }
    // The first step is scaled to unit length, as scipy does; later ones try the full quasi-Newton step.
    const double a_init = S.empty() ? std::min(1.0, 1.0 / dir.norm()) : 1.0;
    Point next;
    if (!line_search(f, x, dir, fx, d0, a_init, next)) {
      if (!S.empty() && !reset_tried) {
        S.clear(), Y.clear(), rho.clear();
        reset_tried = true;
        continue;
      }
      res.stop_reason = "line search failed";
      break;
    }
    reset_tried = false;
    ++k;
    Eigen::VectorXd s = next.x - x, y = next.g - g;
    const double sy = s.dot(y);
    // L-BFGS-B's rule: keep the pair only with enough positive curvature relative to the descent made.
    if (sy > 2.220446049250313e-16 * -g.dot(s)) {
      S.push_back(std::move(s));
      Y.push_back(std::move(y));
      rho.push_back(1.0 / sy);
      if (static_cast<int>(S.size()) > opt.memory) S.pop_front(), Y.pop_front(), rho.pop_front();
    }
    const double f_old = fx;
    x = std::move(next.x);
    g = std::move(next.g);
    fx = next.f;
    if (g.cwiseAbs().maxCoeff() <= opt.gtol) {
      res.converged = true;
      res.stop_reason = "gtol";
    } else if ((f_old - fx) / std::max({std::abs(f_old), std::abs(fx), 1.0}) <= opt.ftol) {
      res.converged = true;
      res.stop_reason = "ftol";
    }
  }
  res.x = std::move(x);
  res.f = fx;
  res.grad_max = g.cwiseAbs().maxCoeff();
  res.n_iter = k;
  return res;
}

}  // namespace kiln::classic::linear_detail
