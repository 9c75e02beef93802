// kiln/optim/adagrad.h: Adagrad with PyTorch 1.13's semantics and defaults (torch.optim.Adagrad).
// Depends on optimizer.h.
//
// Per parameter p with gradient g (negated when maximizing; g += weight_decay * p), at step t:
//   clr = lr / (1 + (t - 1) * lr_decay);  sum += g^2;  p -= clr * g / (sqrt(sum) + eps)
// State: state.<i>.step (i64) and sum, created for every parameter at construction (sum starts at
// initial_accumulator_value), as PyTorch does.
#pragma once

#include "kiln/optim/optimizer.h"

namespace kiln::optim {

struct AdagradOptions {
  double lr = 1e-2;
  double lr_decay = 0.0;
  double weight_decay = 0.0;
  double initial_accumulator_value = 0.0;
  double eps = 1e-10;
  bool maximize = false;
};

class Adagrad : public Optimizer {
 public:
  // Throws kiln::Error for a negative lr, lr_decay, weight_decay, initial_accumulator_value or eps.
  Adagrad(const std::vector<Tensor>& params, const AdagradOptions& options = {});
  Adagrad(const std::vector<ParamGroup>& groups, const AdagradOptions& options = {});
  void step() override;

 private:
  static void init_state(ParamState& s, const Tensor& param, const GroupOptions& options);
};

}  // namespace kiln::optim
