// kiln/optim/rmsprop.h: RMSprop with PyTorch 1.13's semantics and defaults (torch.optim.RMSprop).
// Depends on optimizer.h.
//
// Per parameter p with gradient g (negated when maximizing; g += weight_decay * p):
//   sq = alpha * sq + (1 - alpha) * g^2;  centered: ga = alpha * ga + (1 - alpha) * g, avg = sqrt(sq - ga^2)
//   otherwise avg = sqrt(sq);  avg += eps
//   momentum > 0: buf = momentum * buf + g / avg, p -= lr * buf;  else p -= lr * g / avg
// State: state.<i>.step (i64), square_avg, momentum_buffer (momentum > 0), grad_avg (centered).
#pragma once

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
  bool maximize = false;
};

class RMSprop : public Optimizer {
 public:
  // Throws kiln::Error for a negative lr, eps, momentum, weight_decay or alpha.
  RMSprop(const std::vector<Tensor>& params, const RMSpropOptions& options = {});
  RMSprop(const std::vector<ParamGroup>& groups, const RMSpropOptions& options = {});
  void step() override;
};

}  // namespace kiln::optim
