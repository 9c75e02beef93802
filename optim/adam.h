// kiln/optim/adam.h: Adam and AdamW (decoupled weight decay), with the semantics and defaults of PyTorch
// 1.13's torch.optim.Adam / AdamW (single-tensor path). Depends on optimizer.h.
//
// Per parameter p with gradient g (negated when maximizing), at step t (counted per parameter from 1):
//   Adam:  g += weight_decay * p            AdamW: p *= 1 - lr * weight_decay
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g * g;  (amsgrad: vmax = max(vmax, v))
//   p -= lr / (1 - beta1^t) * m / (sqrt(v or vmax) / sqrt(1 - beta2^t) + eps)
// State: state.<i>.step (i64), exp_avg, exp_avg_sq, and max_exp_avg_sq with amsgrad.
#pragma once

#include <array>

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

// Adam's and AdamW's options, which differ only in the default weight decay (0 and PyTorch's 1e-2).
template <double kDefaultWeightDecay>
struct AdamFamilyOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = kDefaultWeightDecay;
  bool amsgrad = false;
  bool maximize = false;
};
using AdamOptions = AdamFamilyOptions<0.0>;
using AdamWOptions = AdamFamilyOptions<1e-2>;

class Adam : public Optimizer {
 public:
  // Throws kiln::Error for lr < 0, eps < 0, a beta outside [0, 1) or weight_decay < 0.
  Adam(const std::vector<Tensor>& params, const AdamOptions& options = {});
  Adam(const std::vector<ParamGroup>& groups, const AdamOptions& options = {});
  void step() override;

 protected:
  // AdamW: the same update with weight decay applied to the parameter instead of the gradient.
  template <double kDefaultWeightDecay>
  Adam(const char* name, const std::vector<ParamGroup>& groups,
       const AdamFamilyOptions<kDefaultWeightDecay>& o)
      : Adam(name, groups, AdamOptions{o.lr, o.betas, o.eps, o.weight_decay, o.amsgrad, o.maximize}, true) {}

 private:
  Adam(const char* name, const std::vector<ParamGroup>& groups, const AdamOptions& options, bool decoupled);
  bool decoupled_;
};

class AdamW : public Adam {
 public:
  // Throws kiln::Error for lr < 0, eps < 0, a beta outside [0, 1) or weight_decay < 0.
  AdamW(const std::vector<Tensor>& params, const AdamWOptions& options = {})
      : AdamW(std::vector<ParamGroup>{{params, {}}}, options) {}
  AdamW(const std::vector<ParamGroup>& groups, const AdamWOptions& options = {})
      : Adam("AdamW", groups, options) {}
};

}  // namespace kiln::optim
