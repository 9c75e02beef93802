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

struct AdamOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool amsgrad = false;
  bool maximize = false;
};

// AdamW's options differ from Adam's only in the default weight decay (1e-2, PyTorch's).
struct AdamWOptions {
  double lr = 1e-3;
  std::array<double, 2> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
  bool maximize = false;
};

// The shared update; Adam and AdamW differ only in how weight decay enters.
class AdamFamily : public Optimizer {
 public:
  void step() override;

 protected:
  AdamFamily(const char* name, bool decoupled, const AdamOptions& options, std::vector<ParamGroup> groups);

 private:
  bool decoupled_;
};

class Adam : public AdamFamily {
 public:
  // Throws kiln::Error for lr < 0, eps < 0, a beta outside [0, 1) or weight_decay < 0.
  Adam(const std::vector<Tensor>& params, const AdamOptions& options = {});
  Adam(const std::vector<ParamGroup>& groups, const AdamOptions& options = {});
};

class AdamW : public AdamFamily {
 public:
  // Throws kiln::Error for lr < 0, eps < 0, a beta outside [0, 1) or weight_decay < 0.
  AdamW(const std::vector<Tensor>& params, const AdamWOptions& options = {});
  AdamW(const std::vector<ParamGroup>& groups, const AdamWOptions& options = {});
};

}  // namespace kiln::optim
