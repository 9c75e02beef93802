// kiln/optim/adamax.h: Adamax (Adam with the infinity norm, Kingma & Ba 2015), with PyTorch 1.13's
// semantics and defaults (torch.optim.Adamax). Depends on optimizer.h.
//
// Per parameter p with gradient g (negated when maximizing; g += weight_decay * p), at step t:
//   m = beta1 * m + (1 - beta1) * g;  u = max(beta2 * u, |g| + eps);  p -= lr / (1 - beta1^t) * m / u
// State: state.<i>.step (i64), exp_avg, exp_inf.
#pragma once

#include <array>

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct AdamaxOptions {
  double lr = 2e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool maximize = false;
};

class Adamax : public Optimizer {
 public:
  // Throws kiln::Error for lr < 0, eps < 0, a beta outside [0, 1) or weight_decay < 0.
  Adamax(const std::vector<Tensor>& params, const AdamaxOptions& options = {});
  Adamax(const std::vector<ParamGroup>& groups, const AdamaxOptions& options = {});
  void step() override;
};

}  // namespace kiln::optim
