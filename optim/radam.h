// kiln/optim/radam.h: RAdam (rectified Adam, Liu et al. 2019), with PyTorch 1.13's semantics and defaults
// (torch.optim.RAdam). Depends on optimizer.h.
//
// Per parameter p with gradient g (g += weight_decay * p), at step t:
//   m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g^2;  m_hat = m / (1 - beta1^t)
//   rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
//   rho_t > 5: p -= m_hat * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r_t, r_t the variance rectification
//   otherwise: p -= m_hat * lr (plain momentum SGD)
// State: state.<i>.step (i64), exp_avg, exp_avg_sq.
#pragma once

#include <array>

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct RAdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class RAdam : public Optimizer {
 public:
  // Throws kiln::Error for lr < 0, eps < 0, a beta outside [0, 1) or weight_decay < 0.
  RAdam(const std::vector<Tensor>& params, const RAdamOptions& options = {});
  RAdam(const std::vector<ParamGroup>& groups, const RAdamOptions& options = {});
  void step() override;
};

}  // namespace kiln::optim
