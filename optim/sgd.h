// kiln/optim/sgd.h: stochastic gradient descent with momentum, dampening, Nesterov momentum, L2 weight decay
// and maximize, with the semantics of PyTorch 1.13's torch.optim.SGD. Depends on optimizer.h.
//
// Per parameter p with gradient g (d = -g when maximizing):
//   d += weight_decay * p;  buf = (first step) d : momentum * buf + (1 - dampening) * d;
//   d = nesterov ? d + momentum * buf : buf (when momentum != 0);  p -= lr * d.
// State: state.<i>.momentum_buffer (only once momentum != 0 has been used).
#pragma once

#include <limits>

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct SGDOptions {
  // Required, as in PyTorch: there is no default learning rate (NaN means "not given").
  double lr = std::numeric_limits<double>::quiet_NaN();
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;
  bool nesterov = false;
  bool maximize = false;
};

class SGD : public Optimizer {
 public:
  // Throws kiln::Error for a missing or negative lr, negative momentum or weight_decay, and nesterov without
  // momentum > 0 and dampening == 0.
  SGD(const std::vector<Tensor>& params, const SGDOptions& options);
  SGD(const std::vector<ParamGroup>& groups, const SGDOptions& options);
  void step() override;
};

}  // namespace kiln::optim
