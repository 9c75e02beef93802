// Gradient clipping (clip_grad.h). Norms are accumulated in f64 whatever the gradient dtype; the scaling
// is one pass over each gradient.
#include "kiln/optim/clip_grad.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/autograd/node.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

// The gradients that exist, made contiguous in place of the stored ones (so scaling writes where it reads).
std::vector<Tensor> gradients(const std::vector<Tensor>& params, const char* op) {
  std::vector<Tensor> grads;
  for (std::size_t i = 0; i < params.size(); ++i) {
    KILN_CHECK(params[i].defined(), op, ": parameter ", i, " is undefined");
    Tensor g = params[i].grad();
    if (!g.defined()) continue;
    KILN_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, op, ": the gradient of parameter ", i,
               " has dtype ", g.dtype(), "; only f32 and f64 gradients can be clipped");
    KILN_CHECK(g.device().is_cpu(), op, ": the gradient of parameter ", i, " lives on ", g.device(),
               "; clipping runs on CPU gradients only for now");
    if (!g.is_contiguous()) {
      g = g.detach().contiguous();
      params[i].set_grad(g);
    }
    grads.push_back(g);
  }
  return grads;
}

// The norm_type-norm of one gradient. The total is the same norm of the per-tensor norms, as PyTorch takes
// it (for norm_type 0 that counts the gradients that have a non-zero element).
template <class T>
double tensor_norm(const T* x, int64_t n, double p) {
  if (std::isinf(p)) {
    double best = p > 0 ? 0.0 : std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) {
      double a = std::abs(static_cast<double>(x[i]));
      if (std::isnan(a)) return a;
      best = p > 0 ? std::max(best, a) : std::min(best, a);
    }
    return best;
  }
  double acc = 0.0;
  if (p == 0.0) {
    for (int64_t i = 0; i < n; ++i) acc += x[i] != T(0) ? 1.0 : 0.0;
    return acc;
  }
  if (p == 1.0) {
    for (int64_t i = 0; i < n; ++i) acc += std::abs(static_cast<double>(x[i]));
    return acc;
  }
  if (p == 2.0) {
    for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    return std::sqrt(acc);
  }
  for (int64_t i = 0; i < n; ++i) acc += std::pow(std::abs(static_cast<double>(x[i])), p);
  return std::pow(acc, 1.0 / p);
}

double combine(const std::vector<double>& norms, double p) {
  if (norms.size() == 1) return norms[0];
  return tensor_norm(norms.data(), static_cast<int64_t>(norms.size()), p);
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  KILN_CHECK(max_norm >= 0.0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  KILN_CHECK(norm_type >= 0.0 || norm_type == -std::numeric_limits<double>::infinity(),
             "clip_grad_norm_: norm_type must be >= 0 or -inf, got ", norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads = gradients(params, "clip_grad_norm_");
  if (grads.empty()) return 0.0;
  std::vector<double> norms;
  for (const Tensor& g : grads)
    detail::dispatch_floating(g.dtype(), "clip_grad_norm_", [&]<class T>() {
      norms.push_back(tensor_norm(g.data<T>(), g.numel(), norm_type));
    });
  const double total = combine(norms, norm_type);
  const double coef = max_norm / (total + 1e-6);
  const double clamped = std::isnan(coef) ? coef : std::min(coef, 1.0);  // torch.clamp keeps NaN
  for (const Tensor& g : grads) {
    detail::dispatch_floating(g.dtype(), "clip_grad_norm_", [&]<class T>() {
      T* x = g.data<T>();
      const T c = static_cast<T>(clamped);
      detail::parallel_range(g.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] = x[i] * c;
      });
    });
    g.storage()->bump_version();
  }
  return total;
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  KILN_CHECK(clip_value >= 0.0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (const Tensor& g : gradients(params, "clip_grad_value_")) {
    detail::dispatch_floating(g.dtype(), "clip_grad_value_", [&]<class T>() {
      T* x = g.data<T>();
      const T hi = static_cast<T>(clip_value), lo = -hi;
      detail::parallel_range(g.numel(), [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) x[i] = x[i] < lo ? lo : (x[i] > hi ? hi : x[i]);  // NaN stays NaN
      });
    });
    g.storage()->bump_version();
  }
}

}  // namespace kiln::optim
