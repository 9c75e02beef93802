// kiln/optim/nadam.h: NAdam (Adam with Nesterov momentum and momentum decay, Dozat 2016), with PyTorch
// 1.13's semantics and defaults (torch.optim.NAdam). Depends on optimizer.h.
//
// Per parameter p with gradient g (g += weight_decay * p), at step t:
//   mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),  mu_product *= mu_t
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;  d = sqrt(v / (1 - beta2^t)) + eps
//   p -= lr * (1 - mu_t) / (1 - mu_product) * g / d + lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / d
// State: state.<i>.step (i64), mu_product (f64), exp_avg, exp_avg_sq. mu_product is kept in f64 (PyTorch
// keeps it in the default dtype).
#pragma once

#include <array>

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct NAdamOptions {
  double lr = 2e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum_decay = 4e-3;
};

class NAdam : public Optimizer {
 public:
  // Throws kiln::Error for lr < 0, eps < 0, a beta outside [0, 1), weight_decay < 0 or momentum_decay < 0.
  NAdam(const std::vector<Tensor>& params, const NAdamOptions& options = {});
  NAdam(const std::vector<ParamGroup>& groups, const NAdamOptions& options = {});
  void step() override;
};

}  // namespace kiln::optim
