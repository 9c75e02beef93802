// GradScaler (grad_scaler.h): the per-optimizer unscale / step / update protocol of PyTorch 1.13's
// torch.cuda.amp.GradScaler. Gradients are unscaled and checked by the kernel table's unscale_check on
// their own device; the verdict is read on the host once per optimizer step.
#include "kiln/optim/grad_scaler.h"

#include <cmath>

#include "kiln/autograd/node.h"
#include "kiln/autograd/ops.h"
#include "kiln/tensor/backend.h"
#include "kiln/tensor/error.h"

namespace kiln::optim {

namespace {

double entry(const StateDict& dict, const std::string& key) {
  KILN_CHECK(dict.contains(key), "GradScaler.load_state_dict: missing entry '", key, "'");
  const Tensor& t = dict.at(key);
  KILN_CHECK(t.defined() && t.dim() == 0, "GradScaler.load_state_dict: '", key,
             "' must be a 0-d tensor, got shape ", t.defined() ? shape_str(t.shape()) : "undefined");
  return t.item<double>();
}

void check_options(double init_scale, double growth_factor, double backoff_factor, int64_t growth_interval,
                   const char* who) {
  KILN_CHECK(init_scale > 0.0 && std::isfinite(init_scale), who,
             ": the scale must be a finite value > 0, got ", init_scale);
  KILN_CHECK(growth_factor > 1.0, who, ": growth_factor must be > 1.0, got ", growth_factor);
  KILN_CHECK(backoff_factor > 0.0 && backoff_factor < 1.0, who, ": backoff_factor must be in (0, 1), got ",
             backoff_factor);
  KILN_CHECK(growth_interval >= 1, who, ": growth_interval must be >= 1, got ", growth_interval);
}

}  // namespace

GradScaler::GradScaler(const GradScalerOptions& o)
    : scale_(static_cast<float>(o.init_scale)),
      growth_factor_(o.growth_factor),
      backoff_factor_(o.backoff_factor),
      growth_interval_(o.growth_interval),
      enabled_(o.enabled) {
  check_options(o.init_scale, o.growth_factor, o.backoff_factor, o.growth_interval, "GradScaler");
}

Tensor GradScaler::scale(const Tensor& loss) const {
  KILN_CHECK(loss.defined(), "GradScaler.scale: the loss is undefined");
  KILN_CHECK(is_floating(loss.dtype()), "GradScaler.scale: the loss must be floating, got ", loss.dtype());
  if (!enabled_) return loss;
  return mul(loss, full({}, static_cast<double>(scale_), {.dtype = loss.dtype(), .device = loss.device()}));
}

void GradScaler::unscale_(Optimizer& optimizer) {
  if (!enabled_) return;
  PerOptimizer& s = per_optimizer_[&optimizer];
  KILN_CHECK(s.stage != Stage::unscaled,
             "GradScaler.unscale_: unscale_() has already been called on this optimizer (", optimizer.name(),
             ") since the last update()");
  KILN_CHECK(s.stage != Stage::stepped, "GradScaler.unscale_: unscale_() is being called after step() on ",
             optimizer.name(), " (call update() first)");
  NoGradGuard no_grad;
  // PyTorch's inv_scale: the f32 scale's reciprocal taken in f64, then rounded to f32.
  const double inv = static_cast<double>(static_cast<float>(1.0 / static_cast<double>(scale_)));
  std::vector<Tensor> params = optimizer.all_params();
  std::vector<bool> done(params.size(), false);
  for (std::size_t i = 0; i < params.size(); ++i) {  // one unscale_check per device
    if (done[i] || !params[i].grad().defined()) continue;
    const Device device = params[i].grad().device();
    std::vector<Tensor> grads;
    for (std::size_t j = i; j < params.size(); ++j) {
      Tensor g = params[j].grad();
      if (done[j] || !g.defined() || g.device() != device) continue;
      done[j] = true;
      KILN_CHECK(g.dtype() == DType::f32 || g.dtype() == DType::f64, "GradScaler.unscale_: the gradient of ",
                 optimizer.name(), " parameter ", j, " has dtype ", g.dtype(), " (f32 or f64 expected)");
      if (!g.is_contiguous()) {
        g = g.detach().contiguous();
        params[j].set_grad(g);
      }
      grads.push_back(g);
    }
    const Backend& b = backend(device);
    for (const Tensor& g : grads)
      KILN_CHECK(b.supports(OptimKernel::unscale, g.dtype()), "GradScaler.unscale_: the ", b.name,
                 " backend has no unscale_check kernel for ", g.dtype());
    const TensorOptions f32{.dtype = DType::f32, .device = device};
    Tensor found = zeros({}, f32);
    b.unscale_check(grads, found, full({}, inv, f32));
    for (const Tensor& g : grads) g.storage()->bump_version();
    s.found_inf.push_back(found);
  }
  s.found = -1;
  s.stage = Stage::unscaled;
}

bool GradScaler::found_inf(PerOptimizer& s) {
  if (s.found < 0) {
    s.found = 0;
    for (const Tensor& f : s.found_inf)  // one read per device (a synchronization on CUDA)
      if (f.item<float>() != 0.0f) s.found = 1;
  }
  return s.found == 1;
}

bool GradScaler::step(Optimizer& optimizer) {
  if (!enabled_) {
    optimizer.step();
    return true;
  }
  {
    PerOptimizer& s = per_optimizer_[&optimizer];
    KILN_CHECK(s.stage != Stage::stepped, "GradScaler.step: step() has already been called on ",
               optimizer.name(), " since the last update()");
    if (s.stage == Stage::ready) unscale_(optimizer);
  }
  PerOptimizer& s = per_optimizer_[&optimizer];
  const bool skip = found_inf(s);
  if (!skip) optimizer.step();
  s.stage = Stage::stepped;
  return !skip;
}

void GradScaler::update() {
  if (!enabled_) return;
  bool any_checks = false, found = false;
  for (auto& [opt, s] : per_optimizer_) {
    if (s.stage == Stage::ready) continue;
    any_checks = true;
    found = found_inf(s) || found;
  }
  KILN_CHECK(any_checks,
             "GradScaler.update: no inf checks were recorded prior to update() (call unscale_() or step() on "
             "an optimizer first)");
  // PyTorch's _amp_update_scale_, in f32 as its scale tensor.
  if (found) {
    scale_ = scale_ * static_cast<float>(backoff_factor_);
    growth_tracker_ = 0;
  } else if (growth_tracker_ + 1 == growth_interval_) {
    const float grown = scale_ * static_cast<float>(growth_factor_);
    if (std::isfinite(grown)) scale_ = grown;
    growth_tracker_ = 0;
  } else {
    growth_tracker_ += 1;
  }
  per_optimizer_.clear();
}

void GradScaler::update(double new_scale) {
  if (!enabled_) return;
  KILN_CHECK(new_scale > 0.0 && std::isfinite(new_scale),
             "GradScaler.update: new_scale must be a finite value > 0, got ", new_scale);
  scale_ = static_cast<float>(new_scale);
  per_optimizer_.clear();
}

StateDict GradScaler::state_dict() const {
  StateDict dict;
  if (!enabled_) return dict;
  const TensorOptions f64{.dtype = DType::f64}, i64{.dtype = DType::i64};
  dict.insert("scale", scalar_tensor(static_cast<double>(scale_), f64));
  dict.insert("growth_factor", scalar_tensor(growth_factor_, f64));
  dict.insert("backoff_factor", scalar_tensor(backoff_factor_, f64));
  dict.insert("growth_interval", scalar_tensor(static_cast<double>(growth_interval_), i64));
  dict.insert("growth_tracker", scalar_tensor(static_cast<double>(growth_tracker_), i64));
  return dict;
}

void GradScaler::load_state_dict(const StateDict& dict) {
  if (!enabled_) return;
  KILN_CHECK(
      dict.size() != 0,
      "GradScaler.load_state_dict: the state dict is empty (was it saved from a disabled GradScaler?)");
  const double scale = entry(dict, "scale"), growth = entry(dict, "growth_factor");
  const double backoff = entry(dict, "backoff_factor");
  const auto interval = static_cast<int64_t>(entry(dict, "growth_interval"));
  const auto tracker = static_cast<int64_t>(entry(dict, "growth_tracker"));
  check_options(scale, growth, backoff, interval, "GradScaler.load_state_dict");
  KILN_CHECK(tracker >= 0 && tracker < interval, "GradScaler.load_state_dict: growth_tracker ", tracker,
             " is outside [0, growth_interval = ", interval, ")");
  for (const auto& [key, value] : dict) {
    (void)value;
    KILN_CHECK(key == "scale" || key == "growth_factor" || key == "backoff_factor" ||
                   key == "growth_interval" || key == "growth_tracker",
               "GradScaler.load_state_dict: unexpected entry '", key, "'");
  }
  scale_ = static_cast<float>(scale);
  growth_factor_ = growth;
  backoff_factor_ = backoff;
  growth_interval_ = interval;
  growth_tracker_ = tracker;
}

}  // namespace kiln::optim
