// kiln/optim/grad_scaler.h: GradScaler, dynamic loss scaling for mixed-precision training with the
// semantics of PyTorch 1.13's torch.cuda.amp.GradScaler (on CPU f32/f64 parameters too). Depends on
// optimizer.h and state_dict.h.
//
//   optim::GradScaler scaler;
//   scaler.scale(loss).backward();     // gradients of loss * scale
//   scaler.unscale_(opt);              // optional: gradients back to their true size, e.g. to clip them
//   optim::clip_grad_norm_(params, 1.0);
//   scaler.step(opt);                  // unscales if not done yet; skips opt.step() on an inf/NaN gradient
//   scaler.update();                   // backoff after a skipped step, growth after growth_interval clean
//   ones
//
// The inf/NaN check runs on the gradients' device (one kernel-table unscale_check call per device) and
// step() reads its result once. The scale is kept on the host as an f32 value (PyTorch keeps an f32
// tensor), so growth and backoff round as PyTorch's do.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "kiln/optim/optimizer.h"
#include "kiln/tensor/state_dict.h"
#include "kiln/tensor/tensor.h"

namespace kiln::optim {

struct GradScalerOptions {
  double init_scale = 65536.0;     // 2^16
  double growth_factor = 2.0;      // > 1
  double backoff_factor = 0.5;     // in (0, 1)
  int64_t growth_interval = 2000;  // clean steps between growths, >= 1
  bool enabled = true;             // false: every call passes through (scale() returns the loss)
};

class GradScaler {
 public:
  // Throws kiln::Error naming the option for init_scale <= 0, growth_factor <= 1, backoff_factor outside
  // (0, 1) or growth_interval < 1.
  explicit GradScaler(const GradScalerOptions& options = {});

  // loss * scale, recorded by autograd (the scale as a 0-d tensor of the loss's dtype and device). Throws
  // kiln::Error for an undefined or non-floating loss.
  Tensor scale(const Tensor& loss) const;
  // Divides every gradient of the optimizer's parameters by the scale, in place, and records whether any
  // was inf or NaN. Once per optimizer between update() calls: kiln::Error when called twice or after
  // step(). Gradients are made contiguous (replacing strided ones).
  void unscale_(Optimizer& optimizer);
  // Unscales (unless unscale_ was called), then runs optimizer.step() unless a gradient was inf/NaN.
  // Returns whether the step ran. kiln::Error when called twice on an optimizer between update() calls.
  bool step(Optimizer& optimizer);
  // Backs the scale off after any skipped step since the last update(), or grows it after growth_interval
  // consecutive clean updates. kiln::Error if no optimizer was unscaled or stepped since the last update.
  void update();
  // Sets the scale (> 0) instead; the growth tracker is kept, as in PyTorch.
  void update(double new_scale);

  // The current scale (1.0 when disabled, as PyTorch's get_scale).
  double get_scale() const { return enabled_ ? static_cast<double>(scale_) : 1.0; }
  double growth_factor() const { return growth_factor_; }
  double backoff_factor() const { return backoff_factor_; }
  int64_t growth_interval() const { return growth_interval_; }
  int64_t growth_tracker() const { return growth_tracker_; }
  bool is_enabled() const { return enabled_; }

  // Entries (0-d tensors): scale, growth_factor, backoff_factor (f64), growth_interval, growth_tracker
  // (i64). Empty when disabled.
  StateDict state_dict() const;
  // Restores them (a disabled scaler ignores the call). kiln::Error naming a missing or malformed entry
  // (an empty dict: "saved from a disabled GradScaler?"); on error the scaler is unchanged.
  void load_state_dict(const StateDict& dict);

 private:
  enum class Stage { ready, unscaled, stepped };
  struct PerOptimizer {
    Stage stage = Stage::ready;
    std::vector<Tensor> found_inf;  // one f32 0-d tensor per device with gradients
    int found = -1;                 // the devices' verdict once read: 0 clean, 1 inf/NaN, -1 not read yet
  };
  bool found_inf(PerOptimizer& s);  // reads (once) the recorded checks

  float scale_;
  double growth_factor_, backoff_factor_;
  int64_t growth_interval_;
  int64_t growth_tracker_ = 0;
  bool enabled_;
  std::map<const Optimizer*, PerOptimizer> per_optimizer_;
};

}  // namespace kiln::optim
