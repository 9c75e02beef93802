// Gradient clipping (clip_grad.h). Norms are accumulated in f64 whatever the gradient dtype. CPU
// gradients: plain loops, one scaling pass per gradient. Other devices (CUDA): the same formulas as
// tensor ops on the device, so nothing synchronizes unless the caller reads the norm.
#include "kiln/optim/clip_grad.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/optim/update.h"

namespace kiln::optim {

namespace {

// The gradients that exist, made contiguous in place of the stored ones (so scaling writes where it
// reads). They must all live on one device: kiln::Error naming the first two that differ.
std::vector<Tensor> gradients(const std::vector<Tensor>& params, const char* op) {
  std::vector<Tensor> grads;
  std::size_t first = 0;
  for (std::size_t i = 0; i < params.size(); ++i) {
    KILN_CHECK(params[i].defined(), op, ": parameter ", i, " is undefined");
    Tensor g = params[i].grad();
    if (!g.defined()) continue;
    KILN_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, op, ": the gradient of parameter ", i,
               " has dtype ", g.dtype(), "; only f32 and f64 gradients can be clipped");
    if (grads.empty()) first = i;
    KILN_CHECK(grads.empty() || g.device() == grads[0].device(), op,
               ": gradients live on different devices: parameter ", first, " on ", grads[0].device(),
               ", parameter ", i, " on ", g.device(), " (move the model to one device)");
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

// The same norm as tensor ops on the gradients' device, in f64 (no host synchronization): a 0-d tensor.
Tensor device_norm(const Tensor& x, double p) {
  Tensor d = x.dtype() == DType::f64 ? x : cast(x, DType::f64);
  if (std::isinf(p)) return p > 0 ? amax(abs(d)) : amin(abs(d));
  if (p == 0.0) return sum(cast(ne(d, zeros({}, {.dtype = DType::f64, .device = d.device()})), DType::f64));
  if (p == 1.0) return sum(abs(d));
  if (p == 2.0) return sqrt(sum(square(d)));
  return pow(sum(pow(abs(d), p)), 1.0 / p);
}

void check_norm_args(double max_norm, double norm_type) {
  KILN_CHECK(max_norm >= 0.0, "clip_grad_norm_: max_norm must be >= 0, got ", max_norm);
  KILN_CHECK(norm_type >= 0.0 || norm_type == -std::numeric_limits<double>::infinity(),
             "clip_grad_norm_: norm_type must be >= 0 or -inf, got ", norm_type);
}

// The CPU path: f64 accumulation in plain loops, one scaling pass per gradient.
double clip_on_cpu(const std::vector<Tensor>& grads, double max_norm, double norm_type) {
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

// Another device: tensor ops only, so nothing waits for the device.
Tensor clip_on_device(const std::vector<Tensor>& grads, double max_norm, double norm_type) {
  std::vector<Tensor> norms;
  for (const Tensor& g : grads) {
    // An empty gradient's norm, as the CPU loop takes it (0; +inf for the smallest |element|).
    if (g.numel() == 0)
      norms.push_back(full({}, norm_type < 0 ? std::numeric_limits<double>::infinity() : 0.0,
                           {.dtype = DType::f64, .device = g.device()}));
    else
      norms.push_back(device_norm(g, norm_type));
  }
  Tensor total = norms.size() == 1 ? norms[0] : device_norm(stack(norms), norm_type);
  const TensorOptions f64{.dtype = DType::f64, .device = total.device()};
  Tensor coef = div(full({}, max_norm, f64), add(total, full({}, 1e-6, f64)));
  // min(coef, 1) keeping NaN, as torch.clamp does.
  coef = where(ne(coef, coef), coef, minimum(coef, full({}, 1.0, f64)));
  for (Tensor g : grads) g.mul_(g.dtype() == DType::f64 ? coef : cast(coef, g.dtype()));
  return total;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  check_norm_args(max_norm, norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads = gradients(params, "clip_grad_norm_");
  if (grads.empty()) return 0.0;
  if (grads[0].device().is_cpu()) return clip_on_cpu(grads, max_norm, norm_type);
  return clip_on_device(grads, max_norm, norm_type).item<double>();  // the caller reads it: synchronizes
}

Tensor clip_grad_norm_tensor_(const std::vector<Tensor>& params, double max_norm, double norm_type) {
  check_norm_args(max_norm, norm_type);
  NoGradGuard no_grad;
  std::vector<Tensor> grads = gradients(params, "clip_grad_norm_tensor_");
  if (grads.empty()) return scalar_tensor(0.0, {.dtype = DType::f64});
  if (grads[0].device().is_cpu())
    return scalar_tensor(clip_on_cpu(grads, max_norm, norm_type), {.dtype = DType::f64});
  return clip_on_device(grads, max_norm, norm_type);
}

void clip_grad_value_(const std::vector<Tensor>& params, double clip_value) {
  KILN_CHECK(clip_value >= 0.0, "clip_grad_value_: clip_value must be >= 0, got ", clip_value);
  NoGradGuard no_grad;
  for (Tensor g : gradients(params, "clip_grad_value_")) {
    if (!g.device().is_cpu()) {
      g.copy_(clamp(g, -clip_value, clip_value));  // NaN stays NaN
      continue;
    }
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
